//! The ordered decode passes. Cheap first: find label-like high-contrast regions on a half-resolution
//! contrast map, crop them from the full frame at a scale that makes modules ~4 px, and try several
//! binarisations (plain, smoothed, sharpened; dark-on-light and inverted) on the small crop. Whole-frame
//! passes follow as a safety net. Our own locator (`finder`) finds and samples every grid; every result
//! passes our symbol reader's format, version and Reed-Solomon checks (`symbol`); nothing is guessed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::clock;
use super::filters::{binarize_mean, box3, downscale2, integral, unsharp, Plane, View};
use super::finder::FinderLocator;
use super::grid::{inside_convex_quad, Sampler};
use super::{Decoded, DecoderOptions, LumaFrame};

/// Frames above this many pixels are box-downscaled first for the contrast map and the whole-frame scans (it
/// bounds their time); a crop that needs more detail than the downscaled plane holds (a 12 MP phone photo's
/// small code) is taken from the frame itself.
const MAX_BASE_PIXELS: usize = 6_000_000;
/// The smallest QR code (version 1) is 21 modules; anything narrower cannot hold one at 1 px/module.
const MIN_SIDE: usize = 21;
/// ECC checks (format and Reed-Solomon decode through `Sampler::decode`) per frame. Bounds the time a frame
/// full of nearly readable geometries can take; the readable frames of the dev corpus and of project seeds 1,
/// 3 and 7 use at most ~90.
const MAX_ECC_CHECKS: usize = 96;
/// Module taps per frame (see `Sampler::set_budget`). The readable frames of the dev corpus, project seed 1
/// and the edge-case categories use at most ~212,000; a fake code with a valid timing pattern used 2.8
/// million (~75 ms) before this bound.
const MAX_TAPS: usize = 320_000;
/// Candidate regions searched per frame.
const MAX_CANDIDATES: usize = 2;
/// Regions kept from the contrast map. The ones after the first `MAX_CANDIDATES` get the cheap steps: in a
/// cluttered photo (text, barcodes, shapes round a small code) the map can rank the code's region below two
/// others (`clutter`, seeds 1, 2 and 5: 170 -> 177 of 180 read as still images, 169 -> 176 with the default
/// options; zxing-cpp 171; live mode, within 12 frames: 172 -> 178). Their fit step, which reads all of
/// those, comes right after the first region's cheap steps (`clutter` seed 1 p95 10.6 -> 5.3 ms as still
/// images, 9.0 -> 3.9 ms with the default options; where the map has no such region it changes nothing),
/// their other two cheap steps after every other unit. Live mode too (its ring then starts with those fit
/// steps): `clutter` read on the first frame 162 -> 169 of 180, the label corpora unchanged.
const MAX_REGIONS: usize = 8;
/// Contrast-map block size, in pixels of the plane it is computed on.
const BLOCK: usize = 8;
/// Weak contrast-map blocks (see `candidates`): at least this share of the strong blocks' threshold (1/n),
/// this many times the frame's median block range, and a range of at least this percentage of the block's
/// brightest pixel. Shadowed labels (60 generated photos, a straight shadow edge through the code at 20-55 %
/// of the light): 56 -> 59 read; the same reads on 3,225 frames without such a shadow.
const WEAK_SHARE: u32 = 3;
const WEAK_OVER_NOISE: u32 = 3;
const WEAK_MIN_PERCENT: u32 = 65;
/// Module size, in crop pixels, we aim for when scaling a candidate crop.
const TARGET_MODULE_PX: f64 = 3.0;

/// How a crop or level is pre-filtered before binarisation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    Raw,
    /// 3x3 box blur: sensor noise and JPEG artefacts.
    Smooth,
    /// Unsharp mask: defocus and motion blur.
    Sharp,
}

#[derive(Debug, Clone, Copy)]
struct Variant {
    filter: Filter,
    invert: bool,
    /// Darkness margin below the local mean, in grey levels.
    offset: i32,
}

const fn v(filter: Filter, invert: bool, offset: i32) -> Variant {
    Variant {
        filter,
        invert,
        offset,
    }
}

/// One scan of a candidate crop.
#[derive(Debug, Clone, Copy)]
struct CropStep {
    /// Index into `CROP_ZOOMS`, or `FIT_ZOOM`, `DENSE_ZOOM`, `NATIVE_ZOOM`.
    zoom: usize,
    variant: Variant,
    /// Only with `try_harder`.
    harder: bool,
    /// Local-mean window radius in (estimated) modules; 0 = the crop-size default (see `decode`).
    window: u8,
    /// Only on a region where an earlier step formed a finder triple of a dense code (`DENSE_MIN_VERSION`).
    dense: bool,
}

const fn step(zoom: usize, variant: Variant, harder: bool) -> CropStep {
    CropStep {
        zoom,
        variant,
        harder,
        window: 0,
        dense: zoom == DENSE_ZOOM,
    }
}

const fn step_w(zoom: usize, variant: Variant, harder: bool, window: u8) -> CropStep {
    CropStep {
        zoom,
        variant,
        harder,
        window,
        dense: zoom == DENSE_ZOOM,
    }
}

/// `step_w` that runs only where a dense code's finder triple formed (see `CropStep::dense`).
const fn dense_w(zoom: usize, variant: Variant, window: u8) -> CropStep {
    CropStep {
        dense: true,
        ..step_w(zoom, variant, true, window)
    }
}

/// Scans per candidate crop, cheap and most productive first (measured on the dev corpus: the first step
/// reads about half of all frames). Each step was checked against the rest on 3,225 frames (the label
/// corpora, the categories of seeds 1, 2 and 5, ~530 probes): without it, frames go unread that no other
/// step reads. Three that passed that check (offset 12 on both crops, the unsharp mask inverted) were
/// dropped on 2026-11-30 (a page with no code: -10 %), and on 2026-12-01 the box-smoothed label-sized crop
/// at offset 3: on 4,316 frames (every corpus, category and probe set we have) nothing went unread
/// without it, with either option set, and one more frame read.
const CROP_STEPS: &[CropStep] = &[
    // The region sized by its own run lengths (see `module_estimate`), when that makes a much smaller crop.
    step(FIT_ZOOM, v(Filter::Raw, false, 4), false),
    step(0, v(Filter::Raw, false, 4), false),
    step(0, v(Filter::Raw, true, 4), false),
    // A local-mean window of ~2 modules instead of ~8: under heavy blur the finders' light ring is lighter
    // than its neighbours but darker than the label's wide average, and only a small window keeps it.
    step_w(0, v(Filter::Smooth, false, 2), true, 2),
    step(0, v(Filter::Sharp, false, 6), true),
    step(1, v(Filter::Raw, false, 4), true),
    // The small window on the unfiltered 1.8x crop: a dense code seen at a slant has far finders whose
    // light ring is a pixel or two wide, grey between two dark rings; the label-wide mean calls it dark,
    // and the box blur of the small-window step above smears it shut.
    step_w(1, v(Filter::Raw, false, 3), true, 2),
    // A window of one module, nearly no margin: the far finders of a dense code at a slant whose light
    // ring is narrower still (the two-module window above averages it with the dark rings round it).
    step_w(1, v(Filter::Raw, false, 1), true, 1),
    step(1, v(Filter::Smooth, false, 3), true),
    step_w(1, v(Filter::Smooth, false, 2), true, 2),
    step_w(0, v(Filter::Smooth, true, 2), true, 2),
    // The small window on the unfiltered label-sized crop: motion blur shrinks a finder's light ring along
    // one axis, and this keeps what the box blur took. Last but the dense step, where it takes no budget
    // from the steps above (it lost two frames as the fifth step).
    step_w(0, v(Filter::Raw, false, 3), true, 2),
    // The one-module window on the unsharp-masked 1.8x crop: dense codes at a slant that no window on
    // the unfiltered or box-blurred crops reads (fresh seed-11 draw: 38 -> 46 of 60, zxing-cpp 42). Only
    // where a dense code's triple formed, as the dense step: every frame it reads had one, and a page
    // with no code pays for it less often (seed-2 `noqr` median -7 %).
    dense_w(1, v(Filter::Sharp, false, 2), 1),
    // A dense code (see `DENSE_ZOOM`), only where an earlier step formed a finder triple of one.
    step(DENSE_ZOOM, v(Filter::Raw, false, 4), true),
    // Still images: the region at the image's own scale (see `NATIVE_ZOOM`), plain and unsharp-masked (a
    // small code's finder rings, two or three pixels wide, blur shut; the mask opens them: generated
    // receipts 26 -> 30 of 30).
    step(NATIVE_ZOOM, v(Filter::Raw, false, 4), true),
    step(NATIVE_ZOOM, v(Filter::Sharp, false, 6), true),
];

/// Crop zoom factors relative to the size-based estimate (the code's share of the label varies).
const CROP_ZOOMS: &[f64] = &[1.0, 1.8];
/// The crop zoom of the fit step: sized from the region's module estimate, not from `CROP_ZOOMS`.
const FIT_ZOOM: usize = 2;
/// The crop zoom of the dense step: the region at the scale its own run lengths imply (as the fit step,
/// ~3 px a module, never above the image's own), when that is well above what the 1.8x zoom's crop gets
/// under `MAX_CROP_PIXELS`, bounded by `DENSE_MAX_PIXELS` instead. A dense code seen at a slant (version
/// 15-40, 2.5-4 px modules, the far ones smaller) loses its far finders at the label-sized scales.
const DENSE_ZOOM: usize = 3;
/// Largest dense-step crop, in pixels.
const DENSE_MAX_PIXELS: f64 = 400_000.0;
/// The dense step runs on a region only where a finder triple of an earlier step was named or estimated
/// to be of this version or more.
const DENSE_MIN_VERSION: i64 = 12;

/// The steps that read most dense codes at a slant (the 1.8x crop's small windows, indexes into
/// `CROP_STEPS`): once our locator named a finder triple of a dense code in a region (`DENSE_MIN_VERSION` or
/// more) and nothing read, they run next on that region instead of after the label-sized crop's filtered
/// steps. Only the order changes: an image that reads nothing runs the same units.
const SLANT_STEPS: &[usize] = &[6, 7];
const _: () = {
    let mut i = 0;
    while i < SLANT_STEPS.len() {
        let st = CROP_STEPS[SLANT_STEPS[i]];
        assert!(st.zoom == 1 && st.window > 0 && matches!(st.variant.filter, Filter::Raw));
        i += 1;
    }
};

/// The crop zoom of the native step (`DecoderOptions::native_scan`): the region at the image's own scale,
/// bounded by `NATIVE_MAX_PIXELS`, where that is `NATIVE_MIN_GAIN` times the 1.8x zoom's scale or more. The
/// label-sized crops assume a code about a third of its region: a small code on a page or a receipt (a
/// region of text as big as the page) comes out of them too small to read.
const NATIVE_ZOOM: usize = 4;
const NATIVE_MAX_PIXELS: f64 = 6_000_000.0;
/// The native step's bound in live mode, where one unit should fit a frame's budget: a 1.4-2 MP receipt
/// photo's frames stayed at 7.6 ms or less with it (0.7 MP: up to 9.9 ms), and 57 of 60 receipts read within
/// 12 frames (36 without the step).
const LIVE_NATIVE_MAX_PIXELS: f64 = 400_000.0;
/// The native step runs where the image's own scale is at least the 1.8x zoom's: a region over the 1.8x
/// crop's pixel bound (`MAX_CROP_PIXELS`) is scaled down there, and a dense code at a slant in it (a
/// 0.4-0.8 MP image) loses its far finder, whose modules are one or two pixels at the image's own scale.
/// With 1.5 (a region of 360,000 px or more) those images were never scanned at their own scale:
/// `densetilt` 12 more of 150 with the still-image options (seeds 1, 2 and 11; 6 of them read by
/// zxing-cpp, which scans at the image's own scale), no frame lost over 1,766.
const NATIVE_MIN_GAIN: f64 = 1.0;

/// A first region whose run lengths put its finest detail under this many pixels in its largest label-sized
/// crop is a page of text (see `Workspace::search`): its larger-scale scans come early.
const PAGE_MODULE_PX: f64 = 0.8;

/// Largest crop, in pixels, after scaling.
const MAX_CROP_PIXELS: f64 = 160_000.0;

/// Whole-frame scans after the crops: (pyramid level, variant, harder-only). A third, on the quarter-size
/// level, was dropped on 2026-12-01: it was the first to read none of 4,316 frames, and nothing went
/// unread without it, with either option set.
const FRAME_SCANS: &[(u8, Variant, bool)] = &[
    (1, v(Filter::Raw, false, 4), false),
    (1, v(Filter::Raw, true, 4), false),
];

/// Maps plane pixel coordinates to base-plane coordinates: base = origin + p * scale.
#[derive(Debug, Clone, Copy)]
struct Affine {
    scale: f64,
    ox: f64,
    oy: f64,
}

#[derive(Default)]
struct Scratch {
    /// Integral image of a plane as given (`Filter::Raw`), and the key of that plane (see `scan`).
    sat: Vec<u32>,
    sat_key: Option<u64>,
    /// Integral image of `filtered`, and the (plane key, filter) `filtered` was made from.
    filtered_sat: Vec<u32>,
    filtered_key: Option<(u64, Filter)>,
    bits: Vec<u8>,
    tmp16: Vec<u16>,
    sampler: Sampler,
    finder: FinderLocator,
    filtered: Plane,
    blurred: Plane,
    /// Set by `scan` on a hit: our locator saw finder patterns outside the code it read (another code may
    /// be in the frame).
    more_finders: bool,
    /// `module_estimate`'s run lengths.
    run_lens: Vec<u32>,
}

/// All-codes mode: searches of a copy with the codes read so far painted out (see `Workspace::decode`).
const MAX_MASK_ROUNDS: usize = 8;

/// Paints a read code (its outer corners, grown by a sixth to cover its quiet zone's edge) out of `px`
/// with the mean grey under it: a flat patch has no finder patterns, so the next search sees only the
/// other codes.
fn paint_out(px: &mut [u8], w: usize, h: usize, corners: [(f32, f32); 4]) {
    let c = corners.map(|(x, y)| (x as f64, y as f64));
    let (mx, my) = (
        c.iter().map(|p| p.0).sum::<f64>() / 4.0,
        c.iter().map(|p| p.1).sum::<f64>() / 4.0,
    );
    let q = c.map(|(x, y)| (mx + (x - mx) * 1.17, my + (y - my) * 1.17));
    if q.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
        return;
    }
    let clampx = |v: f64| (v.max(0.0) as usize).min(w - 1);
    let clampy = |v: f64| (v.max(0.0) as usize).min(h - 1);
    let (x0, x1) = (
        clampx(q.iter().map(|p| p.0).fold(f64::MAX, f64::min)),
        clampx(q.iter().map(|p| p.0).fold(f64::MIN, f64::max)),
    );
    let (y0, y1) = (
        clampy(q.iter().map(|p| p.1).fold(f64::MAX, f64::min)),
        clampy(q.iter().map(|p| p.1).fold(f64::MIN, f64::max)),
    );
    let (mut sum, mut count) = (0u64, 0u64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if inside_convex_quad(&q, x as f64 + 0.5, y as f64 + 0.5) {
                sum += px[y * w + x] as u64;
                count += 1;
            }
        }
    }
    let Some(mean) = sum.checked_div(count) else {
        return;
    };
    for y in y0..=y1 {
        for x in x0..=x1 {
            if inside_convex_quad(&q, x as f64 + 0.5, y as f64 + 0.5) {
                px[y * w + x] = mean as u8;
            }
        }
    }
}

/// One step of the search (see `Workspace::decode`).
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// Candidate `ci`, crop step `si` (index into `CROP_STEPS`).
    Crop { ci: usize, si: usize },
    /// Whole-frame scan `fi` (index into `FRAME_SCANS`).
    Frame { fi: usize },
}

impl Unit {
    /// Index into `Workspace::unit_cost` (the same kind of unit costs about the same on every frame).
    fn cost_slot(self) -> usize {
        match self {
            Unit::Crop { ci, si } => ci.min(MAX_CANDIDATES - 1) * CROP_STEPS.len() + si,
            Unit::Frame { fi } => MAX_CANDIDATES * CROP_STEPS.len() + fi,
        }
    }

    /// The pass number reported by `Decoder::last_pass`.
    fn pass(self) -> usize {
        match self {
            Unit::Crop { ci, si } => ci * 100 + si,
            Unit::Frame { fi } => 900 + fi,
        }
    }
}

const COST_SLOTS: usize = MAX_CANDIDATES * CROP_STEPS.len() + FRAME_SCANS.len();

/// Assumed cost (ms) of a unit live mode has not measured yet.
const UNMEASURED_COST_MS: f32 = 1.0;

/// This frame's crop of one zoom: (candidate index, (crop-to-base transform, binarisation radius, plane key)).
type ZoomCrop = (usize, (Affine, usize, u64));

/// Crop steps of the first candidate that live mode runs on every frame (fit, plain and inverted: the
/// cheapest and, on the dev corpus, the most productive).
const LIVE_BASE_STEPS: usize = 3;

/// Per-frame bookkeeping shared by the units of one `decode` call.
#[derive(Default)]
struct FrameState {
    /// Per zoom: which candidate's crop `Workspace::crops` holds, with its transform, window and plane key.
    zooms: [Option<ZoomCrop>; 5],
    /// Per candidate: the largest version a finder triple of our locator's steps there was named or
    /// estimated to have (see `DENSE_MIN_VERSION`).
    max_version: [i64; MAX_REGIONS],
    /// Per candidate: its module size estimate (see `module_estimate`), once computed.
    module: [Option<Option<f64>>; MAX_REGIONS],
    /// Plane keys of the pyramid levels for the whole-frame scans (0 = not assigned yet).
    level_key: u64,
}

#[derive(Default)]
pub struct Workspace {
    pub last_pass: Option<usize>,
    /// How many units the last decode ran up to and including the one that read its first code.
    pub last_units: Option<usize>,
    /// This frame's units (kept to reuse the allocation).
    units: Vec<Unit>,
    /// Live mode: where in the ring of non-base units the next frame starts.
    live_next: usize,
    /// Live mode: running estimate of each kind of unit's cost (per candidate slot and step), in ms
    /// (0 = not measured yet).
    unit_cost: Vec<f32>,
    /// Original-frame pixels per base-plane pixel (> 1 only for huge frames).
    base_scale: f64,
    /// Pyramid. `levels[0]` holds the base plane only for huge (downscaled) frames; otherwise the base
    /// plane is the caller's frame itself, read in place (see `base`).
    levels: [Plane; 2],
    level_count: usize,
    base_owned: bool,
    /// The current candidate's crop at each of `CROP_ZOOMS` (also scratch for huge-frame downscaling).
    crops: [Plane; 5],
    block_range: Vec<u8>,
    /// Per contrast-map block: its brightest pixel (see `candidates`' weak blocks).
    block_top: Vec<u8>,
    /// Per contrast-map block: its darkest pixel (see `veil_box`).
    block_floor: Vec<u8>,
    block_mark: Vec<u8>,
    /// Contrast-map row buffers (per-column min/max/transition counts), reused across frames.
    col_lo: Vec<u8>,
    col_hi: Vec<u8>,
    col_mid: Vec<u8>,
    col_above: Vec<u8>,
    col_flips: Vec<u8>,
    /// Crop column taps (source x, source x + 1, weight), reused across frames.
    crop_cols: Vec<(u32, u32, u32)>,
    /// Crop source rows interpolated across (see `build_crop`), reused across frames.
    crop_rows: [(usize, Vec<u16>); 2],
    /// All-codes mode: the frame with the codes read so far painted out.
    masked: Vec<u8>,
    /// `candidates` added the bounding box of a fragmented map as the region after the first
    /// `MAX_CANDIDATES` (searched too).
    union_region: bool,
    /// `candidates` added the first region grown by the bright-veiled blocks round it (see `veil_box`) as
    /// the last region, at this index.
    veil_region: Option<usize>,
    /// Source of fresh plane keys: every crop built and every pyramid level of every frame gets its own, so
    /// `Scratch` can tell when a filtered plane or integral image is still valid for the plane being scanned.
    next_key: u64,
    scratch: Scratch,
}

/// Moves the units from `at` on that `rank` ranks up to `at`, lower ranks first, keeping the order among equal
/// ranks and among the units it does not rank (a stable sort of `units[at..]`). Returns how many it moved.
fn move_up(units: &mut [Unit], at: usize, rank: impl Fn(&Unit) -> Option<u8>) -> usize {
    units[at..].sort_by_key(|u| rank(u).unwrap_or(u8::MAX));
    units[at..].iter().take_while(|u| rank(u).is_some()).count()
}

/// The base plane: the caller's frame, or its downscaled copy for huge frames.
fn base<'a>(owned: bool, levels0: &'a Plane, frame: LumaFrame<'a>) -> View<'a> {
    if owned {
        levels0.view()
    } else {
        let (w, h) = (frame.width as usize, frame.height as usize);
        View {
            w,
            h,
            data: &frame.data[..w * h],
        }
    }
}

impl Workspace {
    pub fn decode(&mut self, frame: LumaFrame<'_>, opts: &DecoderOptions) -> Vec<Decoded> {
        self.last_pass = None;
        self.last_units = None;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let Some(n) = w.checked_mul(h) else {
            return Vec::new();
        };
        if w < MIN_SIDE || h < MIN_SIDE || frame.data.len() < n {
            return Vec::new();
        }
        let mut out: Vec<Decoded> = Vec::new();
        let mut more = self.search(frame, opts, false, &mut out);
        if opts.stop_at_first {
            return out;
        }
        // All codes: while a search read something and saw finder patterns outside what it read, paint the
        // codes read so far out of a copy of the frame and run the cheap steps on its regions again (each
        // search stops work on a region once it gave a code; see `search`).
        let (first_pass, first_units) = (self.last_pass, self.last_units);
        let mut masked = std::mem::take(&mut self.masked);
        for _ in 0..MAX_MASK_ROUNDS {
            if !more {
                break;
            }
            let before = out.len();
            masked.clear();
            masked.extend_from_slice(&frame.data[..n]);
            for d in &out {
                paint_out(&mut masked, w, h, d.corners);
            }
            let copy = LumaFrame {
                width: frame.width,
                height: frame.height,
                data: &masked,
            };
            more = self.search(copy, opts, true, &mut out);
            if out.len() == before {
                break;
            }
        }
        self.masked = masked;
        self.last_pass = first_pass;
        self.last_units = first_units;
        out
    }

    /// One search of the frame (see `decode`); adds the codes it reads to `out`. `cheap`: only the first
    /// steps of each candidate region. Returns whether a code was read and there may be more: a read left
    /// finder patterns outside the code it read.
    fn search(
        &mut self,
        frame: LumaFrame<'_>,
        opts: &DecoderOptions,
        cheap: bool,
        out: &mut Vec<Decoded>,
    ) -> bool {
        let started = clock::now_ms();
        self.last_pass = None;
        self.last_units = None;
        let mut ran = 0usize;
        self.build_pyramid(frame);
        self.scratch.sampler.set_budget(MAX_ECC_CHECKS, MAX_TAPS);

        // The whole search as a flat list of units, in full-search order: each candidate crop's steps, then
        // the whole-frame scans (codes the contrast map missed, several codes per frame).
        let mut candidates = self.candidates(frame);
        // A frame too small for a half-size level (under 84 px a side) gets no whole-frame scan, and its
        // map has a handful of blocks: when that finds no region, the whole frame is the region (the fit
        // step sizes its crop from the run lengths).
        if candidates.is_empty() && self.level_count == 1 {
            let b = base(self.base_owned, &self.levels[0], frame);
            candidates.push((0.0, 0.0, b.w as f64, b.h as f64));
        }
        // A still image that wants every code (`stop_at_first = false`) searches in the same order; see
        // `after_hit` below.
        let mut units = std::mem::take(&mut self.units);
        units.clear();
        // The veiled first region (see `veil_box`) is the last region, and gets its cheap steps last.
        let veil = self.veil_region;
        let searched = (candidates.len() - veil.is_some() as usize).min(MAX_CANDIDATES);
        // A fragmented map's bounding box (see `candidates`) gets the cheap steps right after the first
        // region's: a code with big modules reads there at once.
        let union = self.union_region.then_some(MAX_CANDIDATES);
        // The other regions past the first `MAX_CANDIDATES` get only the cheap steps: the fit step right
        // after the bounding box's, the others last (see `MAX_REGIONS`).
        let later: Vec<usize> = (searched..candidates.len())
            .filter(|&ci| Some(ci) != union && Some(ci) != veil)
            .collect();
        let is_fit = |u: &Unit| matches!(*u, Unit::Crop { si: 0, .. });
        let base_steps = |ci: usize| {
            CROP_STEPS
                .iter()
                .enumerate()
                .take(LIVE_BASE_STEPS)
                .filter(|(_, st)| applies(st.variant, st.harder, opts))
                .map(move |(si, _)| Unit::Crop { ci, si })
        };
        // Where the first region's cheap steps (and the bounding box's, right after them) end.
        let mut cheap_end = 0;
        for ci in 0..searched {
            for (si, st) in CROP_STEPS.iter().enumerate() {
                if applies(st.variant, st.harder, opts)
                    && (st.zoom != NATIVE_ZOOM || opts.native_scan)
                {
                    units.push(Unit::Crop { ci, si });
                }
            }
            if ci == 0 {
                // After the first region's own cheap steps, which open the list: the bounding box's cheap
                // steps, then the later regions' fit steps.
                let at = base_steps(0).count();
                let extra: Vec<Unit> = union
                    .into_iter()
                    .flat_map(base_steps)
                    .chain(later.iter().flat_map(|&c| base_steps(c).filter(is_fit)))
                    .collect();
                cheap_end = at + extra.len();
                units.splice(at..at, extra);
            }
        }
        for (fi, &(level, variant, harder)) in FRAME_SCANS.iter().enumerate() {
            if applies(variant, harder, opts) && (level as usize) < self.level_count {
                units.push(Unit::Frame { fi });
            }
        }
        for &ci in &later {
            units.extend(base_steps(ci).filter(|u| !is_fit(u)));
        }
        units.extend(veil.into_iter().flat_map(base_steps));

        // A page of text (a document, a receipt, a self-test print) is one big region to the contrast map, and
        // its label-sized crops shrink a small code on it below reading size: such pages read on the
        // half-size whole-frame scan or the native steps, after every crop step (10-30 ms). When the first
        // region's own run lengths say its finest detail comes out under `PAGE_MODULE_PX` in its largest
        // label-sized crop, those scans come right after its cheap first steps instead. Only the order
        // changes: an image that reads nothing runs the same units. Not in live mode, whose ring has its own
        // order.
        let mut module0 = None;
        // Where the units moved up for a page end (0: none moved).
        let mut page_end = 0;
        if opts.live.is_none() {
            if let Some(&region) = candidates.first() {
                let src = base(self.base_owned, &self.levels[0], frame);
                let m = module_estimate(src, region, &mut self.scratch.run_lens);
                module0 = Some(m);
                if m.is_some_and(|m| m * zoomed_scale(region) < PAGE_MODULE_PX) {
                    let early = |u: &Unit| match *u {
                        Unit::Frame { fi } => fi == 0,
                        Unit::Crop { ci, si } => ci == 0 && CROP_STEPS[si].zoom == NATIVE_ZOOM,
                    };
                    // The whole-frame scan first (the cheaper), then the native steps.
                    page_end = cheap_end
                        + move_up(&mut units, cheap_end, |u| {
                            early(u).then_some(!matches!(u, Unit::Frame { .. }) as u8)
                        });
                }
            }
        }

        // Live mode: the first crop's cheapest steps on every frame, then the rest of the search as a ring
        // that each frame continues where the last one stopped, for as long as the frame's time budget
        // lasts. A still image (no live budget) runs every unit in order.
        let base = match opts.live {
            Some(_) => units
                .iter()
                .take_while(|u| matches!(u, Unit::Crop { ci: 0, si } if *si < LIVE_BASE_STEPS))
                .count(),
            None => units.len(),
        };
        let rest = units.len() - base;
        let start = if rest > 0 { self.live_next % rest } else { 0 };
        self.live_next = 0;
        let budget = opts.live.map(|l| l.max_ms as f64);
        let mut state = FrameState::default();
        if let Some(m) = module0 {
            state.module[0] = Some(m);
        }
        self.unit_cost.resize(COST_SLOTS, 0.0);
        // All-codes mode: once a code is read, the search does not go on through every remaining pass (an
        // image holding one code would pay for the whole search, ~50x a camera frame's cost). Instead: no
        // more steps on a candidate region that gave a code, only the cheap first steps on the others;
        // `decode` searches again with the codes read painted out when finders were left over.
        let mut read_in = [false; MAX_REGIONS];
        // Regions whose slant steps were moved up (see `SLANT_STEPS`).
        let mut slant_moved = [false; MAX_REGIONS];
        let mut after_hit = cheap;
        let mut more_codes = false;

        for k in 0..units.len() {
            let unit = if k < base {
                units[k]
            } else {
                units[base + (start + k - base) % rest]
            };
            if after_hit {
                let wanted = match unit {
                    Unit::Crop { ci, si } => !read_in[ci] && si < LIVE_BASE_STEPS,
                    Unit::Frame { .. } => false,
                };
                if !wanted {
                    continue;
                }
            }
            let slot = unit.cost_slot();
            if let Some(budget) = budget {
                let elapsed = clock::now_ms() - started;
                // The first unit of the ring always runs (progress); later ones only if they fit.
                let cost = match self.unit_cost[slot] {
                    c if c > 0.0 => c,
                    _ => UNMEASURED_COST_MS,
                };
                if k > base && elapsed + cost as f64 > budget {
                    self.live_next = (start + k - base) % rest;
                    break;
                }
            }
            let t0 = clock::now_ms();
            let hit = self.run_unit(unit, &candidates, frame, opts, &mut state, out);
            ran += 1;

            if budget.is_some() {
                let dt = (clock::now_ms() - t0) as f32;
                let c = &mut self.unit_cost[slot];
                *c = if *c == 0.0 { dt } else { 0.7 * *c + 0.3 * dt };
            }
            if hit {
                self.last_pass.get_or_insert(unit.pass());
                self.last_units.get_or_insert(ran);
                if opts.stop_at_first {
                    // Next frame starts from the top again: the code is probably still there.
                    self.live_next = 0;
                    break;
                }
                after_hit = true;
                more_codes |= self.scratch.more_finders;
                if let Unit::Crop { ci, .. } = unit {
                    read_in[ci] = true;
                    // The veiled region is the first one grown: a code read in either is in both.
                    if let Some(v) = veil.filter(|&v| ci == v || ci == 0) {
                        read_in[v] = true;
                        read_in[0] = true;
                    }
                }
            } else if let Unit::Crop { ci, .. } = unit {
                // Once our locator named a triple of a dense code here, the steps that read one at a
                // slant come next, after the scans moved up for a page (whose text forms such triples).
                // Only the order changes. Not in live mode, whose ring keeps its order.
                if budget.is_none()
                    && !slant_moved[ci]
                    && state.max_version[ci] >= DENSE_MIN_VERSION
                {
                    slant_moved[ci] = true;
                    move_up(&mut units, (k + 1).max(page_end), |u| {
                        matches!(*u, Unit::Crop { ci: c, si } if c == ci && SLANT_STEPS.contains(&si))
                            .then_some(0)
                    });
                }
            }
        }
        self.units = units;
        self.last_pass.is_some() && more_codes
    }

    /// Runs one unit of the search; true if it added a code to `out`.
    #[allow(clippy::too_many_arguments)]
    fn run_unit(
        &mut self,
        unit: Unit,
        candidates: &[(f64, f64, f64, f64)],
        frame: LumaFrame<'_>,
        opts: &DecoderOptions,
        st8: &mut FrameState,
        out: &mut Vec<Decoded>,
    ) -> bool {
        match unit {
            Unit::Crop { ci, si } => {
                let (x0, y0, x1, y1) = candidates[ci];
                let st = CROP_STEPS[si];
                if st.dense && st8.max_version[ci] < DENSE_MIN_VERSION {
                    return false;
                }
                // Each zoom's crop is built once per candidate and kept for its other steps.
                let (xf, radius, key) = match st8.zooms[st.zoom] {
                    Some((owner, z)) if owner == ci => z,
                    _ => {
                        let side = (x1 - x0).max(y1 - y0);
                        let src = base(self.base_owned, &self.levels[0], frame);
                        let label_f = |zoom: f64| label_scale(side, zoom);
                        // The scale the 1.8x zoom's crop gets on this region (the dense and native steps
                        // run only well above it).
                        let region_area = (x1 - x0) * (y1 - y0);
                        let zoomed = zoomed_scale((x0, y0, x1, y1));
                        let (mut x0, mut y0, mut x1, mut y1) = (x0, y0, x1, y1);
                        // The fit and dense steps: the scale that puts ~3 px in a module by the region's
                        // own run lengths (never above the image's own: `base_scale` in base-plane terms,
                        // above 1 for a downscaled huge frame), with that module.
                        let max_f = self.base_scale;
                        let fit = if st.zoom == FIT_ZOOM || st.zoom == DENSE_ZOOM {
                            let module = *st8.module[ci].get_or_insert_with(|| {
                                module_estimate(src, (x0, y0, x1, y1), &mut self.scratch.run_lens)
                            });
                            module.map(|m| ((MODULE_FIT_PX / m).clamp(0.05, max_f), m))
                        } else {
                            None
                        };
                        let mut f = if st.zoom == FIT_ZOOM {
                            // A code that fills its region (a screenshot, a close-up, a small clean image)
                            // has bigger modules than that guess, and the region's own run lengths say so:
                            // this step reads such a code from a crop several times smaller. It is skipped
                            // when they do not (blur, text and noise only make runs shorter).
                            match fit {
                                Some((f, m)) if f < label_f(1.0) * FIT_SHRINK => {
                                    let (bw, bh) = (src.w as f64, src.h as f64);
                                    // Modules of half a map block or more: the map sees no texture
                                    // inside a finder's centre or ring, nor in a run of same-colour
                                    // modules, and splits the code into fragments. Its regions are
                                    // then pieces of one code: take their bounding box (the crop stays
                                    // small, scaled for these big modules).
                                    let map_block =
                                        (BLOCK << (self.level_count > 1) as usize) as f64;
                                    if m * 2.0 >= map_block {
                                        for &(a0, b0, a1, b1) in candidates {
                                            (x0, y0) = (x0.min(a0), y0.min(b0));
                                            (x1, y1) = (x1.max(a1), y1.max(b1));
                                        }
                                    }
                                    // The map's region can miss a strip of big modules at the code's
                                    // edge (a finder and its separator: blocks without texture): grow
                                    // it by 8 modules.
                                    let grow = FIT_GROW_MODULES * m;
                                    (x0, y0) = ((x0 - grow).max(0.0), (y0 - grow).max(0.0));
                                    (x1, y1) = ((x1 + grow).min(bw), (y1 + grow).min(bh));
                                    f
                                }
                                _ => return false,
                            }
                        } else if st.zoom == DENSE_ZOOM {
                            match fit {
                                Some((f, _)) if f > zoomed * 1.25 => {
                                    f.min((DENSE_MAX_PIXELS / region_area).sqrt())
                                }
                                _ => return false,
                            }
                        } else if st.zoom == NATIVE_ZOOM {
                            let cap = if opts.live.is_some() {
                                LIVE_NATIVE_MAX_PIXELS
                            } else {
                                NATIVE_MAX_PIXELS
                            };
                            let f = max_f.min((cap / region_area).sqrt());
                            if f < zoomed * NATIVE_MIN_GAIN {
                                return false;
                            }
                            f
                        } else {
                            label_f(CROP_ZOOMS[st.zoom])
                        };
                        // Bound the crop's area so one scan stays around a millisecond (the dense and
                        // native steps have bounds of their own).
                        let area = (x1 - x0) * (y1 - y0) * f * f;
                        if area > MAX_CROP_PIXELS && st.zoom != DENSE_ZOOM && st.zoom != NATIVE_ZOOM
                        {
                            f *= (MAX_CROP_PIXELS / area).sqrt();
                        }
                        let crop = &mut self.crops[st.zoom];
                        // A huge frame was downscaled for the map and the whole-frame scans: a crop that
                        // scales the downscaled plane up is taken from the caller's frame instead, which
                        // still holds the detail (the crop's transform to base-plane pixels is the same).
                        let (from, k) = if self.base_scale > 1.0 && f > 1.0 {
                            (base(false, &self.levels[0], frame), self.base_scale)
                        } else {
                            (src, 1.0)
                        };
                        build_crop(
                            from,
                            x0 * k,
                            y0 * k,
                            x1 * k,
                            y1 * k,
                            f / k,
                            &mut self.crop_cols,
                            &mut self.crop_rows,
                            crop,
                        );
                        let xf = Affine {
                            scale: 1.0 / f,
                            ox: x0,
                            oy: y0,
                        };
                        let radius = (crop.w.min(crop.h) / 10).clamp(4, 40);
                        self.next_key += 1;
                        let z = (xf, radius, self.next_key);
                        st8.zooms[st.zoom] = Some((ci, z));
                        z
                    }
                };
                let crop = &self.crops[st.zoom];
                let radius = if st.window > 0 {
                    (st.window as f64 * TARGET_MODULE_PX * CROP_ZOOMS[st.zoom.min(1)]).round()
                        as usize
                } else {
                    radius
                };
                let hit = scan(
                    crop,
                    key,
                    st.variant,
                    radius,
                    xf,
                    self.base_scale,
                    &mut self.scratch,
                    out,
                );
                st8.max_version[ci] = st8.max_version[ci].max(self.scratch.finder.max_version());
                hit
            }
            Unit::Frame { fi } => {
                let (level, variant, _) = FRAME_SCANS[fi];
                if st8.level_key == 0 {
                    st8.level_key = self.next_key + 1;
                    self.next_key += 2;
                }
                let plane = &self.levels[level as usize];
                let radius = (plane.w.min(plane.h) / 24).clamp(5, 40);
                let xf = Affine {
                    scale: (1u32 << level) as f64,
                    ox: 0.0,
                    oy: 0.0,
                };
                scan(
                    plane,
                    st8.level_key + level as u64,
                    variant,
                    radius,
                    xf,
                    self.base_scale,
                    &mut self.scratch,
                    out,
                )
            }
        }
    }

    /// Builds the half-size level (and, for huge frames, a downscaled base plane).
    fn build_pyramid(&mut self, frame: LumaFrame<'_>) {
        let (w, h) = (frame.width as usize, frame.height as usize);
        self.base_scale = 1.0;
        self.base_owned = false;
        if w * h > MAX_BASE_PIXELS {
            downscale2(base(false, &self.levels[0], frame), &mut self.crops[0]);
            std::mem::swap(&mut self.levels[0], &mut self.crops[0]);
            self.base_scale = 2.0;
            self.base_owned = true;
            while self.levels[0].w * self.levels[0].h > MAX_BASE_PIXELS {
                downscale2(self.levels[0].view(), &mut self.crops[0]);
                std::mem::swap(&mut self.levels[0], &mut self.crops[0]);
                self.base_scale *= 2.0;
            }
        }
        let (bw, bh) = {
            let b = base(self.base_owned, &self.levels[0], frame);
            (b.w, b.h)
        };
        self.level_count = 1;
        if bw / 2 < MIN_SIDE * 2 || bh / 2 < MIN_SIDE * 2 {
            return;
        }
        let (l0, rest) = self.levels.split_at_mut(1);
        downscale2(base(self.base_owned, &l0[0], frame), &mut rest[0]);
        self.level_count = 2;
    }

    /// Finds label-like regions: blocks of the half-resolution plane with strong local contrast and several
    /// light/dark transitions per row (a code's texture), grouped into connected components. Returns up to
    /// `MAX_REGIONS` boxes (base-plane pixels, x0 y0 x1 y1), biggest component first (the search examines
    /// the first `MAX_CANDIDATES`; all-codes mode also the others).
    fn candidates(&mut self, frame: LumaFrame<'_>) -> Vec<(f64, f64, f64, f64)> {
        let level = if self.level_count > 1 { 1 } else { 0 };
        let plane = if level == 1 {
            self.levels[1].view()
        } else {
            base(self.base_owned, &self.levels[0], frame)
        };
        let (bw, bh) = (plane.w / BLOCK, plane.h / BLOCK);
        self.union_region = false;
        self.veil_region = None;
        if bw < 2 || bh < 2 || bw > 512 {
            return Vec::new();
        }
        let cols = bw * BLOCK;
        self.block_range.clear();
        self.block_range.resize(bw * bh, 0);
        self.block_top.clear();
        self.block_top.resize(bw * bh, 0);
        self.block_floor.clear();
        self.block_floor.resize(bw * bh, 0);
        let mut max_range = 0u8;
        // Per-column buffers: element-wise passes over whole rows vectorise; blocks are reduced afterwards.
        let (lo, hi, mid, above, flips) = (
            &mut self.col_lo,
            &mut self.col_hi,
            &mut self.col_mid,
            &mut self.col_above,
            &mut self.col_flips,
        );
        for buf in [&mut *mid, &mut *above, &mut *flips] {
            buf.clear();
            buf.resize(cols, 0);
        }
        let mut block_lo = [255u8; 512];
        let mut block_hi = [0u8; 512];
        for by in 0..bh {
            lo.clear();
            lo.resize(cols, 255);
            hi.clear();
            hi.resize(cols, 0);
            for y in by * BLOCK..(by + 1) * BLOCK {
                let row = &plane.data[y * plane.w..y * plane.w + cols];
                for ((l, h), &p) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                    *l = (*l).min(p);
                    *h = (*h).max(p);
                }
            }
            for bx in 0..bw {
                let (l, h) = (
                    &lo[bx * BLOCK..(bx + 1) * BLOCK],
                    &hi[bx * BLOCK..(bx + 1) * BLOCK],
                );
                block_lo[bx] = l.iter().copied().min().unwrap_or(255);
                block_hi[bx] = h.iter().copied().max().unwrap_or(0);
                let m = ((block_lo[bx] as u16 + block_hi[bx] as u16) / 2) as u8;
                mid[bx * BLOCK..(bx + 1) * BLOCK].fill(m);
            }
            // Transitions across the block's mid-grey, counted on every other row (enough to tell texture):
            // flips[x] counts rows where pixel x-1 and pixel x fall on different sides (same block only).
            flips.fill(0);
            for y in (by * BLOCK..(by + 1) * BLOCK).step_by(2) {
                let row = &plane.data[y * plane.w..y * plane.w + cols];
                for ((a, &p), &m) in above.iter_mut().zip(row).zip(mid.iter()) {
                    *a = (p > m) as u8;
                }
                for ((f, &cur), &prev) in flips[1..]
                    .iter_mut()
                    .zip(&above[1..])
                    .zip(&above[..cols - 1])
                {
                    *f += cur ^ prev;
                }
            }
            for bx in 0..bw {
                let range = block_hi[bx] - block_lo[bx];
                let transitions: u16 = flips[bx * BLOCK + 1..(bx + 1) * BLOCK]
                    .iter()
                    .map(|&f| f as u16)
                    .sum();
                // Edges of a label give 1 transition per row; a code's modules give several.
                let r = if transitions >= 3 { range } else { 0 };
                self.block_range[by * bw + bx] = r;
                self.block_top[by * bw + bx] = block_hi[bx];
                self.block_floor[by * bw + bx] = block_lo[bx];
                max_range = max_range.max(r);
            }
        }
        let threshold = (max_range as u32 * 2 / 5).max(24) as u8;
        // Weak blocks: a shadow across a label (a hand's, the phone's) leaves its part of the code with a
        // fraction of the contrast the lit part has, below `threshold`. A block joins a region it touches
        // when its contrast is a third of that, is most of its own brightness (as a code's has, in shadow or
        // not: a desk's texture or a dim scene's noise has less), and stands well above the frame's noise
        // (the median block's range).
        let median = {
            let mut hist = [0u32; 256];
            for &r in &self.block_range {
                hist[r as usize] += 1;
            }
            let half = (self.block_range.len() as u32).div_ceil(2);
            let mut seen = 0;
            hist.iter()
                .position(|&c| {
                    seen += c;
                    seen >= half
                })
                .unwrap_or(0) as u32
        };
        let weak = (threshold as u32 / WEAK_SHARE)
            .max(24)
            .max(median * WEAK_OVER_NOISE)
            .min(255) as u8;
        self.block_mark.clear();
        self.block_mark.extend(
            self.block_range
                .iter()
                .zip(&self.block_top)
                .map(|(&r, &top)| {
                    if r >= threshold {
                        1
                    } else if r >= weak && r as u32 * 100 >= top as u32 * WEAK_MIN_PERCENT {
                        3
                    } else {
                        0
                    }
                }),
        );

        // Connected components (8-neighbourhood, bridging one-block gaps) by iterative flood fill. Weak
        // blocks (see above) join a component they touch, directly, and widen its box; its size (which
        // orders the regions and drops specks) counts the strong blocks only.
        let mut comps: Vec<(usize, usize, usize, usize, usize)> = Vec::new(); // count, x0, y0, x1, y1
        let mut stack = Vec::new();
        for start in 0..bw * bh {
            if self.block_mark[start] != 1 {
                continue;
            }
            self.block_mark[start] = 2;
            stack.push(start);
            let (mut count, mut x0, mut y0, mut x1, mut y1) = (0, bw, bh, 0, 0);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % bw, i / bw);
                count += (self.block_mark[i] == 2) as usize;
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
                for ny in y.saturating_sub(2)..(y + 3).min(bh) {
                    for nx in x.saturating_sub(2)..(x + 3).min(bw) {
                        let j = ny * bw + nx;
                        if self.block_mark[j] == 1 {
                            self.block_mark[j] = 2;
                            stack.push(j);
                        } else if self.block_mark[j] == 3
                            && nx.abs_diff(x) <= 1
                            && ny.abs_diff(y) <= 1
                        {
                            self.block_mark[j] = 4;
                            stack.push(j);
                        }
                    }
                }
            }
            if count >= 4 {
                comps.push((count, x0, y0, x1, y1));
            }
        }
        comps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let px = (BLOCK << level) as f64;
        let (base_w, base_h) = {
            let b = base(self.base_owned, &self.levels[0], frame);
            (b.w as f64, b.h as f64)
        };
        let to_base = |(x0, y0, x1, y1): (usize, usize, usize, usize)| {
            let margin = px;
            (
                (x0 as f64 * px - margin).max(0.0),
                (y0 as f64 * px - margin).max(0.0),
                ((x1 + 1) as f64 * px + margin).min(base_w),
                ((y1 + 1) as f64 * px + margin).min(base_h),
            )
        };
        let mut out: Vec<(f64, f64, f64, f64)> = comps
            .iter()
            .take(MAX_REGIONS)
            .map(|&(_, x0, y0, x1, y1)| to_base((x0, y0, x1, y1)))
            .collect();
        // A code whose modules are bigger than a block shows texture only along module edges: the map sees
        // it as scattered fragments. When the fragments' bounding box is much bigger than the largest one,
        // that box is searched too, as a third region (the fit step sizes its crop from its run lengths).
        if comps.len() >= 3 {
            let union = comps
                .iter()
                .fold((bw, bh, 0, 0), |(a, b, c, d), &(_, x0, y0, x1, y1)| {
                    (a.min(x0), b.min(y0), c.max(x1), d.max(y1))
                });
            let area =
                |(x0, y0, x1, y1): (usize, usize, usize, usize)| (x1 + 1 - x0) * (y1 + 1 - y0);
            let (_, x0, y0, x1, y1) = comps[0];
            if area(union) >= 3 * area((x0, y0, x1, y1)) {
                out.insert(MAX_CANDIDATES.min(out.len()), to_base(union));
                out.truncate(MAX_REGIONS);
                self.union_region = true;
            }
        }
        if let Some(&(_, x0, y0, x1, y1)) = comps.first() {
            if let Some(grown) = self.veil_box((x0, y0, x1, y1), bw, bh, weak) {
                out.truncate(MAX_REGIONS - 1);
                self.veil_region = Some(out.len());
                out.push(to_base(grown));
            }
        }
        out
    }

    /// The box (in blocks) of the first region grown by the bright-veiled blocks that touch it, chained, when
    /// there are any. A bright veil (glare, or a light patch on a light-on-dark code) lifts a code's dark
    /// modules: its blocks keep a weak block's contrast, but as most of their darkest pixel's distance from
    /// white, not of their brightest pixel (a shadow's), and the weak blocks leave them out. Their own region
    /// (searched last: `search`) takes the veiled part's finder in; the first region itself stays as it was
    /// (grown, it sized the crops of some blurred labels differently: label seeds 7 and 11 lost two frames).
    /// Over 3,546 frames (every corpus, category, seed-2 draw and probe set, label seeds 3, 7 and 11), either
    /// option set: 1 more read (an inverted shadowed label), none lost, the same pass everywhere else.
    fn veil_box(
        &mut self,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        bw: usize,
        bh: usize,
        weak: u8,
    ) -> Option<(usize, usize, usize, usize)> {
        let veiled = |i: usize, mark: &[u8]| {
            let r = self.block_range[i];
            mark[i] == 0
                && r >= weak
                && r as u32 * 100 >= (255 - self.block_floor[i]) as u32 * WEAK_MIN_PERCENT
        };
        let mut mark = std::mem::take(&mut self.block_mark);
        let mut stack: Vec<usize> = (y0..=y1)
            .flat_map(|y| (x0..=x1).map(move |x| y * bw + x))
            .filter(|&i| matches!(mark[i], 2 | 4))
            .collect();
        let (mut gx0, mut gy0, mut gx1, mut gy1) = (x0, y0, x1, y1);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            for ny in y.saturating_sub(1)..(y + 2).min(bh) {
                for nx in x.saturating_sub(1)..(x + 2).min(bw) {
                    let j = ny * bw + nx;
                    if veiled(j, &mark) {
                        mark[j] = 5;
                        stack.push(j);
                        gx0 = gx0.min(nx);
                        gy0 = gy0.min(ny);
                        gx1 = gx1.max(nx);
                        gy1 = gy1.max(ny);
                    }
                }
            }
        }
        self.block_mark = mark;
        ((gx0, gy0, gx1, gy1) != (x0, y0, x1, y1)).then_some((gx0, gy0, gx1, gy1))
    }
}

/// The scale of a label-sized crop of a region whose longer side is `side` at crop zoom `zoom`: a label's code
/// is roughly a third of its longer side and ~33 modules across, and gets `TARGET_MODULE_PX` a module.
fn label_scale(side: f64, zoom: f64) -> f64 {
    (zoom * TARGET_MODULE_PX * 33.0 / (side * 0.35)).clamp(0.3, 4.0)
}

/// The scale the 1.8x zoom's crop of a region gets (the largest of the label-sized crops).
fn zoomed_scale((x0, y0, x1, y1): (f64, f64, f64, f64)) -> f64 {
    let side = (x1 - x0).max(y1 - y0);
    label_scale(side, CROP_ZOOMS[1]).min((MAX_CROP_PIXELS / ((x1 - x0) * (y1 - y0))).sqrt())
}

/// The fit step (see `CROP_STEPS`) runs only when its crop is at least this much smaller (per side) than
/// the label-sized one (0.7 left `tiny` and `mirrored` codes to the bigger crop: medians 0.33 / 0.49 ms vs
/// 0.25 / 0.47 ms with 0.85; the same reads everywhere).
const FIT_SHRINK: f64 = 0.85;
/// Module pitch (crop pixels) the fit step's crop aims for. A blurred code's estimate comes out long and
/// its fit crop too small to read; the label-sized steps after it cover that. The fit crop never scales
/// up: smaller modules are read at the image's own resolution (a pixel-snapped or small clean code reads
/// there, from a plane up to 9x smaller than the upscaled one: `snapped` median 0.23 -> 0.11 ms, `tiny`
/// 0.26 -> 0.14 ms, one more read in each at seed 2), and the label-sized steps after it scale up.
const MODULE_FIT_PX: f64 = 3.0;
/// Modules the fit step grows its region by on every side (a finder and its separator; 4, a quiet zone,
/// left the outer finders of big-module codes outside: `bigmodule` read 25 and 27 of 30 at seeds 1 and 2,
/// 30 and 30 with 8 and the fragments' bounding box).
const FIT_GROW_MODULES: f64 = 8.0;

/// Estimates the module size (base-plane pixels) of a code that fills `region`: the lower quartile of the
/// run lengths on seven rows, and on seven columns, through it, each thresholded at its own mid-grey (a
/// code's runs are 1-4 modules; its quartile run is one module), the smaller of the two (motion blur
/// lengthens the runs along its direction only). `None` when the region has too few runs to say.
fn module_estimate(
    src: View<'_>,
    (x0, y0, x1, y1): (f64, f64, f64, f64),
    lens: &mut Vec<u32>,
) -> Option<f64> {
    let (x0, y0) = (x0.max(0.0) as usize, y0.max(0.0) as usize);
    let (x1, y1) = ((x1 as usize).min(src.w), (y1 as usize).min(src.h));
    if x1 < x0 + MIN_SIDE || y1 < y0 + MIN_SIDE {
        return None;
    }
    let mut line = Vec::with_capacity((x1 - x0).max(y1 - y0));
    let mut best: Option<f64> = None;
    for vertical in [false, true] {
        lens.clear();
        for k in 1..8 {
            line.clear();
            if vertical {
                let x = x0 + (x1 - x0) * k / 8;
                line.extend((y0..y1).map(|y| src.data[y * src.w + x]));
            } else {
                let y = y0 + (y1 - y0) * k / 8;
                line.extend_from_slice(&src.data[y * src.w + x0..y * src.w + x1]);
            }
            let (lo, hi) = line
                .iter()
                .fold((255u8, 0u8), |(l, h), &p| (l.min(p), h.max(p)));
            if hi - lo < 24 {
                continue;
            }
            let mid = ((lo as u16 + hi as u16) / 2) as u8;
            let mut run = 0u32;
            let mut first = true;
            let mut prev = line[0] > mid;
            for &p in &line[1..] {
                let cur = p > mid;
                run += 1;
                if cur != prev {
                    // The first run of a line is cut by the region's edge.
                    if !first {
                        lens.push(run);
                    }
                    first = false;
                    run = 0;
                    prev = cur;
                }
            }
        }
        if lens.len() < 20 {
            return None;
        }
        let q = lens.len() / 4;
        let (_, &mut quartile, _) = lens.select_nth_unstable(q);
        best = Some(best.map_or(quartile as f64, |b| b.min(quartile as f64)));
    }
    best
}

/// Cuts `[x0,x1) x [y0,y1)` out of the base plane, scaled by `f` with bilinear sampling (16.16 fixed point).
/// `cols` caches the per-column taps, which are the same on every row. Separable: each source row is
/// interpolated across once into `rows` (kept while the next output row still needs it: at `f` near or
/// above 1 consecutive output rows share source rows), then output rows blend two of those (a loop that
/// vectorises). The arithmetic is the one-pass formula's, so the crop is the same to the bit.
#[allow(clippy::too_many_arguments)]
fn build_crop(
    src: View<'_>,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    f: f64,
    cols: &mut Vec<(u32, u32, u32)>,
    rows: &mut [(usize, Vec<u16>); 2],
    crop: &mut Plane,
) {
    let w = (((x1 - x0) * f) as usize).clamp(1, 8192);
    let h = (((y1 - y0) * f) as usize).clamp(1, 8192);
    // Every pixel is written below.
    crop.reshape(w, h);
    let step = (65536.0 / f) as i64;
    let fx0 = ((x0 - 0.5) * 65536.0) as i64 + step / 2;
    let fy0 = ((y0 - 0.5) * 65536.0) as i64 + step / 2;
    let (max_x, max_y) = (((src.w - 1) as i64) << 16, ((src.h - 1) as i64) << 16);
    cols.clear();
    cols.extend((0..w).map(|x| {
        let fx = (fx0 + x as i64 * step).clamp(0, max_x);
        let (sx, ax) = ((fx >> 16) as usize, (fx & 0xffff) as u32 >> 8);
        let sx1 = (sx + 1).min(src.w - 1);
        (sx as u32, sx1 as u32, ax)
    }));
    // Horizontal pass of source row `sy` (at most 255 * 256: fits u16).
    let across = |sy: usize, buf: &mut Vec<u16>| {
        let r = &src.data[sy * src.w..(sy + 1) * src.w];
        buf.clear();
        buf.extend(cols.iter().map(|&(sx, sx1, ax)| {
            (r[sx as usize] as u32 * (256 - ax) + r[sx1 as usize] as u32 * ax) as u16
        }));
    };
    // Which source row each buffer holds; none yet (the buffers outlive this crop).
    rows[0].0 = usize::MAX;
    rows[1].0 = usize::MAX;
    for y in 0..h {
        let fy = (fy0 + y as i64 * step).clamp(0, max_y);
        let (sy, ay) = ((fy >> 16) as usize, (fy & 0xffff) as u32 >> 8);
        let sy1 = (sy + 1).min(src.h - 1);
        // Slots for the top and bottom source rows, reusing what the last output row left.
        let top = match rows.iter().position(|r| r.0 == sy) {
            Some(i) => i,
            None => {
                let i = (rows[0].0 == sy1) as usize;
                rows[i].0 = sy;
                across(sy, &mut rows[i].1);
                i
            }
        };
        let bottom = if sy1 == sy {
            top
        } else {
            match rows.iter().position(|r| r.0 == sy1) {
                Some(i) => i,
                None => {
                    let i = 1 - top;
                    rows[i].0 = sy1;
                    across(sy1, &mut rows[i].1);
                    i
                }
            }
        };
        let (t, b) = (&rows[top].1, &rows[bottom].1);
        let out = &mut crop.data[y * w..(y + 1) * w];
        let (wt, wb) = (256 - ay, ay);
        for ((o, &t), &b) in out.iter_mut().zip(t.iter()).zip(b.iter()) {
            *o = ((t as u32 * wt + b as u32 * wb + (1 << 15)) >> 16) as u8;
        }
    }
}

fn applies(variant: Variant, harder: bool, opts: &DecoderOptions) -> bool {
    (!variant.invert || opts.try_inverted) && (!harder || opts.try_harder)
}

/// One binarise + locate + read on `plane`. Pushes new (deduplicated) codes to `out`; true if it added any.
#[allow(clippy::too_many_arguments)]
fn scan(
    plane: &Plane,
    plane_key: u64,
    variant: Variant,
    radius: usize,
    xf: Affine,
    base_scale: f64,
    s: &mut Scratch,
    out: &mut Vec<Decoded>,
) -> bool {
    if plane.w < MIN_SIDE || plane.h < MIN_SIDE {
        return false;
    }
    // Steps on the same plane with the same filter share the filtered plane and its integral image.
    let (src, sat): (&Plane, &[u32]) = match variant.filter {
        Filter::Raw => {
            if s.sat_key != Some(plane_key) {
                integral(plane, &mut s.sat);
                s.sat_key = Some(plane_key);
            }
            (plane, &s.sat)
        }
        filter => {
            if s.filtered_key != Some((plane_key, filter)) {
                if filter == Filter::Smooth {
                    box3(plane, &mut s.tmp16, &mut s.filtered);
                } else {
                    box3(plane, &mut s.tmp16, &mut s.blurred);
                    unsharp(plane, &s.blurred, 1.5, &mut s.filtered);
                }
                integral(&s.filtered, &mut s.filtered_sat);
                s.filtered_key = Some((plane_key, filter));
            }
            (&s.filtered, &s.filtered_sat)
        }
    };
    binarize_mean(
        src,
        sat,
        radius,
        variant.offset,
        variant.invert,
        &mut s.bits,
    );
    s.more_finders = false;
    s.finder.set_scale(xf.scale * base_scale);
    let Some((text, loc)) = catch_unwind(AssertUnwindSafe(|| {
        s.finder.read(src, &s.bits, variant.invert, &mut s.sampler)
    }))
    .ok()
    .flatten() else {
        return false;
    };
    if out.iter().any(|d| d.text == text) {
        return false;
    }
    // A code's three finders lie inside its corners; two or more outside may be another code's.
    s.more_finders = s.finder.finders_outside(loc.corners()) >= 2;
    let corners = loc.corners().map(|(x, y)| {
        (
            ((xf.ox + x * xf.scale) * base_scale) as f32,
            ((xf.oy + y * xf.scale) * base_scale) as f32,
        )
    });
    out.push(Decoded { text, corners });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass bilinear crop `build_crop` replaced: every output pixel from its four source pixels.
    fn reference_crop(src: View<'_>, x0: f64, y0: f64, x1: f64, y1: f64, f: f64) -> Plane {
        let w = (((x1 - x0) * f) as usize).clamp(1, 8192);
        let h = (((y1 - y0) * f) as usize).clamp(1, 8192);
        let mut crop = Plane::default();
        crop.resize(w, h);
        let step = (65536.0 / f) as i64;
        let fx0 = ((x0 - 0.5) * 65536.0) as i64 + step / 2;
        let fy0 = ((y0 - 0.5) * 65536.0) as i64 + step / 2;
        let (max_x, max_y) = (((src.w - 1) as i64) << 16, ((src.h - 1) as i64) << 16);
        for y in 0..h {
            let fy = (fy0 + y as i64 * step).clamp(0, max_y);
            let (sy, ay) = ((fy >> 16) as usize, (fy & 0xffff) as u32 >> 8);
            let sy1 = (sy + 1).min(src.h - 1);
            for x in 0..w {
                let fx = (fx0 + x as i64 * step).clamp(0, max_x);
                let (sx, ax) = ((fx >> 16) as usize, (fx & 0xffff) as u32 >> 8);
                let sx1 = (sx + 1).min(src.w - 1);
                let p = |xx: usize, yy: usize| src.data[yy * src.w + xx] as u32;
                let top = p(sx, sy) * (256 - ax) + p(sx1, sy) * ax;
                let bottom = p(sx, sy1) * (256 - ax) + p(sx1, sy1) * ax;
                crop.data[y * w + x] = ((top * (256 - ay) + bottom * ay + (1 << 15)) >> 16) as u8;
            }
        }
        crop
    }

    #[test]
    fn the_fit_step_reads_small_modules_at_the_images_own_resolution() {
        // Pixel-snapped codes of 1-2 px a module: the fit step's crop is never bigger than the image, and
        // it is the step that reads them (it used to scale them up to 3 px a module first).
        let opts = DecoderOptions::default();
        let (mut read_there, mut n) = (0, 0);
        for img in crate::categories::generate("snapped", 1, 12) {
            let luma = img.image.to_luma8();
            let mut ws = Workspace::default();
            let found = ws.decode(
                LumaFrame {
                    width: luma.width(),
                    height: luma.height(),
                    data: luma.as_raw(),
                },
                &opts,
            );
            n += 1;
            let fit = &ws.crops[FIT_ZOOM];
            assert!(
                fit.w <= luma.width() as usize && fit.h <= luma.height() as usize,
                "{}: fit crop {}x{} from a {}x{} image",
                img.name,
                fit.w,
                fit.h,
                luma.width(),
                luma.height()
            );
            if ws.last_pass == Some(0) && found.first().map(|d| &d.text) == img.payload.as_ref() {
                read_there += 1;
            }
        }
        assert!(
            read_there * 4 >= n * 3,
            "{read_there} of {n} read by the fit step"
        );
    }

    #[test]
    fn separable_crop_is_the_one_pass_crop_to_the_bit() {
        let (w, h) = (97usize, 83usize);
        let mut seed = 1u32;
        let data: Vec<u8> = (0..w * h)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        let src = View { w, h, data: &data };
        let (mut cols, mut rows, mut crop) = (Vec::new(), Default::default(), Plane::default());
        // Down- and upscaling, fractional offsets, regions running off every edge.
        for &(x0, y0, x1, y1, f) in &[
            (0.0, 0.0, 97.0, 83.0, 1.0),
            (10.3, 5.7, 80.2, 70.9, 0.37),
            (-4.0, -6.5, 60.0, 50.0, 1.0 / 0.94),
            (20.25, 30.75, 40.0, 50.0, 3.3),
            (50.0, 40.0, 120.0, 100.0, 1.8),
            (0.5, 0.5, 96.5, 82.5, 0.5),
        ] {
            build_crop(src, x0, y0, x1, y1, f, &mut cols, &mut rows, &mut crop);
            let want = reference_crop(src, x0, y0, x1, y1, f);
            assert_eq!((crop.w, crop.h), (want.w, want.h));
            assert!(
                crop.data == want.data,
                "crop ({x0}, {y0})-({x1}, {y1}) x{f} differs"
            );
        }
    }
}
