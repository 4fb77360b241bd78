//! Our own, blur-tolerant code locator (the only one; see `pipeline`):
//! scan a binarised crop for 1:1:3:1:1 finder patterns (rows, confirmed on columns), pair them into
//! triples, derive the version from their spacing or version information, and try the few plausible grids
//! (alignment pattern, finder edge lines, corner nudges) through module-space sampling, then the warped
//! ones (timing-pattern edges, module edges). Our symbol reader's format, version and Reed-Solomon checks
//! (`symbol`) accept or reject every attempt.

use super::filters::Plane;
use super::grid::{
    edge_grids, inside_convex_quad, timing_warp, AlignmentMesh, Homography, Location, Sampler,
    PRECHECK_MEAN, PRECHECK_ONE,
};
use super::symbol::alignment_centres;

/// A finder-pattern centre with its module size (pixels).
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f64,
    y: f64,
    module: f64,
    hits: u32,
    /// Hits whose row and column modules differ by 1.8-2.2x: a finder seen obliquely (or clutter).
    oblique: u32,
}

impl Finder {
    /// Mostly seen with unequal row and column modules: only the steep triples use it.
    fn is_oblique(&self) -> bool {
        self.oblique * 2 > self.hits
    }
}

/// Finder-candidate clusters kept per scan while rows are scanned (a big code's data makes many
/// finder-like hits, and a cap reached early would drop the bottom finder, scanned last).
const MAX_CLUSTERS: usize = 1024;
/// At most this many finder clusters enter the triple search (strongest first).
const MAX_FINDERS: usize = 8;
/// Decode attempts per call (geometries whose timing patterns fit, and ring-edge measurements); bounds the
/// time spent on clutter.
const MAX_ATTEMPTS: usize = 60;
/// Geometries per call whose timing patterns did not fit (only the pre-check paid), over the face-on
/// triples. Counted with the attempts (60 in all) they used up the budget on a dense code's finder-like
/// data patterns before its own, steep, triple came up; 120 apart gave `steep` seed 2 58 -> 59 of 60 and
/// `snapped` +1 at seeds 1 and 2. Since the steep triples have a budget of their own
/// (`MAX_STEEP_PRECHECKS`), 60 reads the same (3,225 frames: the corpora, categories and probes) and
/// costs a page with no code ~11 % less: most of a failed search's triple work was face-on triples of
/// clutter spending this budget on every step.
const MAX_PRECHECKS: usize = 60;
/// The steep tier's pre-check budget (see `read`), halved when the face-on triples spent theirs.
const MAX_STEEP_PRECHECKS: usize = 120;
/// Geometries per call whose data gets the blur equaliser (`Sampler::equalize`, up to two more ECC checks each).
const MAX_EQUALIZED: usize = 2;
/// Largest ratio between the module sizes of a triple's finders (a steep view makes the far ones smaller).
const MAX_MODULE_RATIO: f64 = 2.6;
/// How far (in versions) from the spacing estimate a version block read at a steep view's own finder
/// pitch may name (see `read_version_at_own_pitch`): a v40 code's estimate was v33.
const OWN_PITCH_SPREAD: i64 = 10;
/// Largest version our locator tries (all of them: a wrong version fails the timing pre-check or the format check).
const MAX_VERSION: i64 = 40;

#[inline]
fn ratio_ok(runs: [usize; 5]) -> Option<f64> {
    // The centre stone (3 modules: at least 1.8 by the tolerances below) is longer than each ring run (at
    // most 1.7). Most windows of a textured row fail this, before any arithmetic.
    if runs[2] <= runs[0].max(runs[1]).max(runs[3]).max(runs[4]) {
        return None;
    }
    let total: usize = runs.iter().sum();
    if total < 7 {
        return None;
    }
    // Integer pre-test: the tests below times 70 / u (|r - w u| <= t u  <=>  |70 r - 10 w total| <= 10 t
    // total), with a little slack for float rounding, so it never rejects what they accept: most windows
    // fail here without a division or a float.
    let t = total as i64;
    let off = |r: usize, w: i64, tol: i64| (70 * r as i64 - 10 * w * t).abs() > tol * t + 7;
    if off(runs[2], 3, 12)
        || off(runs[0], 1, 7)
        || off(runs[1], 1, 7)
        || off(runs[3], 1, 7)
        || off(runs[4], 1, 7)
    {
        return None;
    }
    let u = total as f64 / 7.0;
    let near = |r: usize, want: f64, tol: f64| (r as f64 - want * u).abs() <= tol * u;
    // Blur fattens dark runs and thins light ones, hence the generous tolerances.
    if near(runs[0], 1.0, 0.7)
        && near(runs[1], 1.0, 0.7)
        && near(runs[2], 3.0, 1.2)
        && near(runs[3], 1.0, 0.7)
        && near(runs[4], 1.0, 0.7)
    {
        Some(u)
    } else {
        None
    }
}

/// Diagonal confirmation through a finder candidate's centre: the 1:1:3:1:1 pattern along one of the two
/// diagonals (the rows and columns of a finder pattern are squares, so its diagonals show the same ratio, √2
/// longer). Random texture that happens to show the ratio on a row and a column rarely shows it there.
fn check_diagonal(bits: &[u8], w: usize, h: usize, cx: f64, cy: f64, module: f64) -> bool {
    let (x, y) = (cx as isize, cy as isize);
    if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
        return false;
    }
    let dark = |xx: isize, yy: isize| {
        xx >= 0
            && yy >= 0
            && (xx as usize) < w
            && (yy as usize) < h
            && bits[yy as usize * w + xx as usize] == 1
    };
    if !dark(x, y) {
        return false;
    }
    let max_total = (module * 7.0 * 1.41 * 2.0) as usize + 4;
    [1isize, -1].iter().any(|&dx| {
        let (mut runs, mut total) = ([0usize; 5], 0);
        // Towards the top: centre dark, light, dark ring; then towards the bottom likewise.
        for (dir, order) in [
            (-1isize, [(2usize, true), (1, false), (0, true)]),
            (1, [(2, true), (3, false), (4, true)]),
        ] {
            let (mut xx, mut yy) = if dir < 0 { (x, y) } else { (x + dx, y + 1) };
            let step = (dx * dir, dir);
            for (i, want_dark) in order {
                while dark(xx, yy) == want_dark
                    && xx >= -1
                    && yy >= -1
                    && xx <= w as isize
                    && yy <= h as isize
                {
                    runs[i] += 1;
                    total += 1;
                    xx += step.0;
                    yy += step.1;
                    if total > max_total {
                        return false;
                    }
                    if !(0..w as isize).contains(&xx) || !(0..h as isize).contains(&yy) {
                        break;
                    }
                }
                if runs[i] == 0 {
                    return false;
                }
            }
        }
        ratio_ok(runs).is_some()
    })
}

/// Vertical confirmation through (x, y): returns (centre y, module) when the column shows 1:1:3:1:1.
fn check_column(
    bits: &[u8],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    max_total: usize,
) -> Option<(f64, f64)> {
    let dark = |yy: usize| bits[yy * w + x] == 1;
    if !dark(y) {
        return None;
    }
    // Walk up: centre dark, light, dark ring; then down likewise.
    let mut runs = [0usize; 5];
    let mut total = 0;
    let mut yy = y as isize;
    for (i, want_dark) in [(2usize, true), (1, false), (0, true)] {
        while yy >= 0 && dark(yy as usize) == want_dark {
            runs[i] += 1;
            total += 1;
            yy -= 1;
            if total > max_total {
                return None;
            }
        }
        if runs[i] == 0 || (yy < 0 && i != 0) {
            return None;
        }
    }
    let top = yy + 1;
    let mut yy = y + 1;
    for (i, want_dark) in [(2usize, true), (3, false), (4, true)] {
        while yy < h && dark(yy) == want_dark {
            runs[i] += 1;
            total += 1;
            yy += 1;
            if total > max_total {
                return None;
            }
        }
        if runs[i] == 0 || (yy >= h && i != 4) {
            return None;
        }
    }
    let u = ratio_ok(runs)?;
    let c_start = top as f64 + (runs[0] + runs[1]) as f64;
    Some((c_start + runs[2] as f64 / 2.0, u))
}

/// Splits a binarised row (0 and 1 only, as `binarize_mean` writes) into runs of equal value, alternating
/// colours: writes 0, then each position where the value changes, then the row's length into `bounds` (at
/// least `row.len() + 1` long), so run k spans `bounds[k]..bounds[k + 1]`. Returns the number of runs.
/// Compares 8 pixels at a time with their left neighbours (XOR of two overlapping words), so long uniform
/// stretches cost one comparison per 8 pixels and there is no per-pixel branch; a change costs one 4-byte
/// store (a row of noise changes at nearly every pixel).
fn row_runs(row: &[u8], bounds: &mut [u32]) -> usize {
    let w = row.len();
    if w == 0 {
        return 0;
    }
    bounds[0] = 0;
    let mut n = 1;
    let mut x = 1;
    while x + 8 <= w {
        let cur = u64::from_le_bytes(row[x..x + 8].try_into().unwrap());
        let prev = u64::from_le_bytes(row[x - 1..x + 7].try_into().unwrap());
        let mut diff = cur ^ prev;
        while diff != 0 {
            let byte = diff.trailing_zeros() / 8;
            bounds[n] = (x + byte as usize) as u32;
            n += 1;
            // Bits are 0 or 1: a changed byte has exactly one bit set.
            diff &= diff - 1;
        }
        x += 8;
    }
    for x in x..w {
        if row[x] != row[x - 1] {
            bounds[n] = x as u32;
            n += 1;
        }
    }
    bounds[n] = w as u32;
    n
}

/// Side, in pixels, of a `ClusterGrid` cell.
const CELL_PX: f64 = 16.0;

/// `find_finders`' clusters bucketed by position: a row hit merges into the first cluster (in creation
/// order) within two of its modules, and the buckets near the hit hold every such cluster, so that search
/// does not walk all of them. A noisy plane makes hundreds of clusters (up to `MAX_CLUSTERS`), and walking
/// them for every hit was most of the finder scan's time there.
#[derive(Default)]
struct ClusterGrid {
    cols: usize,
    rows: usize,
    /// Per cell: its most recently added cluster's index + 1 (0: empty).
    head: Vec<u32>,
    /// Per cluster: the next cluster's index + 1 in the same cell (0: none).
    next: Vec<u32>,
    /// Per cluster: its cell.
    cell: Vec<u32>,
}

impl ClusterGrid {
    fn reset(&mut self, w: usize, h: usize) {
        self.cols = (w as f64 / CELL_PX) as usize + 1;
        self.rows = (h as f64 / CELL_PX) as usize + 1;
        self.head.clear();
        self.head.resize(self.cols * self.rows, 0);
        self.next.clear();
        self.cell.clear();
    }

    /// The cell column (or row) of coordinate `v`, clamped to the grid's `n` cells: monotonic in `v`, so a
    /// range of coordinates maps into the range of its ends' cells.
    fn index(v: f64, n: usize) -> usize {
        ((v / CELL_PX).max(0.0) as usize).min(n - 1)
    }

    fn cell_of(&self, x: f64, y: f64) -> u32 {
        (Self::index(y, self.rows) * self.cols + Self::index(x, self.cols)) as u32
    }

    /// Adds the next cluster (index: the number added so far) at (x, y).
    fn push(&mut self, x: f64, y: f64) {
        let c = self.cell_of(x, y);
        self.next.push(self.head[c as usize]);
        self.cell.push(c);
        self.head[c as usize] = self.cell.len() as u32;
    }

    /// Cluster `i` moved to (x, y).
    fn moved(&mut self, i: usize, x: f64, y: f64) {
        let c = self.cell_of(x, y);
        let old = self.cell[i];
        if c == old {
            return;
        }
        // Unlink from the old cell's list, link at the head of the new one's.
        let (me, after) = (i as u32 + 1, self.next[i]);
        if self.head[old as usize] == me {
            self.head[old as usize] = after;
        } else {
            let mut k = self.head[old as usize] as usize - 1;
            while self.next[k] != me {
                k = self.next[k] as usize - 1;
            }
            self.next[k] = after;
        }
        self.next[i] = self.head[c as usize];
        self.head[c as usize] = i as u32 + 1;
        self.cell[i] = c;
    }

    /// The first cluster of `clusters` (lowest index) within `r` of (x, y) on both axes.
    fn first_near(&self, clusters: &[Finder], x: f64, y: f64, r: f64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for gy in Self::index(y - r, self.rows)..=Self::index(y + r, self.rows) {
            for gx in Self::index(x - r, self.cols)..=Self::index(x + r, self.cols) {
                let mut j = self.head[gy * self.cols + gx];
                while j != 0 {
                    let k = j as usize - 1;
                    let f = &clusters[k];
                    if (f.x - x).abs() < r && (f.y - y).abs() < r && best.is_none_or(|b| k < b) {
                        best = Some(k);
                    }
                    j = self.next[k];
                }
            }
        }
        best
    }
}

/// Finder candidates confirmed on two or more rows, the strongest `MAX_FINDERS` of them, into `out`.
fn find_finders(
    bits: &[u8],
    w: usize,
    h: usize,
    bounds: &mut Vec<u32>,
    grid: &mut ClusterGrid,
    out: &mut Vec<Finder>,
) {
    out.clear();
    grid.reset(w, h);
    bounds.resize(w + 1, 0);
    for y in 0..h {
        let row = &bits[y * w..(y + 1) * w];
        let n = row_runs(row, bounds);
        let len = |k: usize| (bounds[k + 1] - bounds[k]) as usize;
        // Dark runs sit at even indices when the row starts dark, at odd ones when it starts light.
        let first = (row[0] != 1) as usize;
        for i in (first..n.saturating_sub(4)).step_by(2) {
            let lens = [len(i), len(i + 1), len(i + 2), len(i + 3), len(i + 4)];
            let Some(u) = ratio_ok(lens) else { continue };
            let cx = bounds[i + 2] as f64 + lens[2] as f64 / 2.0;
            let total: usize = lens.iter().sum();
            let Some((cy, uv)) = check_column(bits, w, h, cx as usize, y, total * 2) else {
                continue;
            };
            // A steep view foreshortens the far finders one way: up to 2.2x, but those only join
            // the steep triples (see `read`).
            if uv > u * 2.2 || u > uv * 2.2 {
                continue;
            }
            let oblique = (uv > u * 1.8 || u > uv * 1.8) as u32;
            let module = (u + uv) / 2.0;
            // Merge with an existing cluster (same finder seen on another row).
            if let Some(k) = grid.first_near(out, cx, cy, module * 2.0) {
                let f = &mut out[k];
                let n = f.hits as f64;
                f.x = (f.x * n + cx) / (n + 1.0);
                f.y = (f.y * n + cy) / (n + 1.0);
                f.module = (f.module * n + module) / (n + 1.0);
                f.hits += 1;
                f.oblique += oblique;
                grid.moved(k, f.x, f.y);
            } else if out.len() < MAX_CLUSTERS {
                grid.push(cx, cy);
                out.push(Finder {
                    x: cx,
                    y: cy,
                    module,
                    hits: 1,
                    oblique,
                });
            }
        }
    }
    // A candidate seen on only a few rows must also show the ratio on a diagonal (random texture rarely
    // does; a real finder's centre stone gives ~3 rows a module, so a rounded "design" finder that fails
    // the diagonal is kept on its rows). Small modules (under 2.5 px) are too coarse for the diagonal's
    // ratio: there, three rows.
    out.retain(|f| {
        f.hits >= 2
            && if f.module >= 2.5 {
                f.hits >= 4 || check_diagonal(bits, w, h, f.x, f.y, f.module)
            } else {
                f.hits >= 3
            }
    });
    out.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then(a.x.total_cmp(&b.x))
            .then(a.y.total_cmp(&b.y))
    });
    out.truncate(MAX_FINDERS);
}

/// Reusable state for the fallback locator.
#[derive(Default)]
pub struct FinderLocator {
    finders: Vec<Finder>,
    /// `find_finders`' run boundaries for one row.
    bounds: Vec<u32>,
    grid: ClusterGrid,
    /// Source-image pixels per pixel of the plane `read` gets (a crop is scaled; see `set_scale`); 0 (never
    /// set) counts as 1.
    scale: f64,
    /// The largest version a triple of the last `read` named or estimated (0: no triple).
    max_version: std::cell::Cell<i64>,
}

impl FinderLocator {
    /// How many source-image pixels one pixel of the planes `read` gets stands for (the crops are scaled):
    /// `edge_grids` is for modules of one or two source pixels only.
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// The largest version a finder triple of the last `read` was named (version blocks) or estimated
    /// (finder spacing) to have; 0 when it formed no triple.
    pub fn max_version(&self) -> i64 {
        self.max_version.get()
    }

    /// How many of the finder patterns the last `read` saw lie outside `quad` (a code's corners, in the same
    /// plane's pixels): a second code's finders show up here.
    pub fn finders_outside(&self, quad: [(f64, f64); 4]) -> usize {
        self.finders
            .iter()
            .filter(|f| !inside_convex_quad(&quad, f.x, f.y))
            .count()
    }

    /// Tries to read a code from `bits` (binarised `plane`, 1 = dark). Returns the text and its location
    /// in `plane` coordinates.
    pub fn read(
        &mut self,
        plane: &Plane,
        bits: &[u8],
        invert: bool,
        sampler: &mut Sampler,
    ) -> Option<(String, Location)> {
        let (w, h) = (plane.w, plane.h);
        find_finders(
            bits,
            w,
            h,
            &mut self.bounds,
            &mut self.grid,
            &mut self.finders,
        );
        self.max_version.set(0);
        let f = &self.finders;
        let mut attempts = 0usize;
        let mut prechecks = 0usize;
        let mut equalized = 0usize;
        let mut refined = 0usize;
        let mut warped = 0usize;
        let mut edged = 0usize;
        let mut meshed = 0usize;
        // The triples in three tiers: first those that look like one code seen cleanly face-on (module
        // sizes within 20 %, sides within 10 %, the angle within ~9 degrees of square), then the rest of
        // those that look roughly face-on, then the ones only a steep view explains (the far finder
        // smaller, one side foreshortened, the angle skewed). A frontal code's triple is so tried before
        // the attempt and sample budgets go to unlikely ones, and a clean code's before finder-like data
        // patterns inside it (those took the first tries of mirrored and big codes, in the order the
        // finders were found; see below for the order within each tier).
        let mut triples: Vec<(u8, usize, usize, usize)> = Vec::with_capacity(64);
        for b in 0..f.len() {
            for a in 0..f.len() {
                for c in 0..f.len() {
                    if a == b || c == b || a >= c {
                        continue;
                    }
                    let (pa, pb, pc) = (f[a], f[b], f[c]);
                    // Module sizes must agree.
                    let (mn, mx) = (
                        pa.module.min(pb.module).min(pc.module),
                        pa.module.max(pb.module).max(pc.module),
                    );
                    if mx > mn * MAX_MODULE_RATIO {
                        continue;
                    }
                    let (ax, ay, cx, cy) = (pa.x - pb.x, pa.y - pb.y, pc.x - pb.x, pc.y - pb.y);
                    let (la, lc) = (ax.hypot(ay), cx.hypot(cy));
                    if la < 1.0 || lc < 1.0 || la > lc * 2.0 || lc > la * 2.0 {
                        continue;
                    }
                    let cos = (ax * cx + ay * cy) / (la * lc);
                    // Up to 53-127 degrees: a steep view skews the right angle that far.
                    if cos.abs() > 0.6 {
                        continue;
                    }
                    let frontal = mx <= mn * 1.7
                        && la <= lc * 1.4
                        && lc <= la * 1.4
                        && cos.abs() <= 0.35
                        && !(pa.is_oblique() || pb.is_oblique() || pc.is_oblique());
                    let tier = if !frontal {
                        2u8
                    } else if mx <= mn * 1.2 && la.max(lc) <= la.min(lc) * 1.1 && cos.abs() <= 0.15
                    {
                        0
                    } else {
                        1
                    };
                    triples.push((tier, a, b, c));
                }
            }
        }
        // Stable: the clean face-on tier keeps the order the finders were found in. The other two, where a
        // dense code's far finders, weaker, leave its triple behind those of its finder-like data patterns,
        // are ordered by their finders' strength (rows confirmed per pixel of module, at most 3: a finder's
        // centre stone spans three modules).
        let strength = |i: usize| (f[i].hits as f64 / f[i].module).min(3.0);
        let weak = |&(tier, a, b, c): &(u8, usize, usize, usize)| {
            if tier >= 1 {
                -(strength(a) + strength(b) + strength(c))
            } else {
                0.0
            }
        };
        triples.sort_by(|x, y| x.0.cmp(&y.0).then(weak(x).total_cmp(&weak(y))));
        let mut steep_tier = false;
        // Set when the face-on tiers used up the pre-check budget: the rest of them is skipped, and the
        // steep tier still comes (it used to be cut off with them: dense codes at a slant whose triple
        // is steep were never tried behind their data patterns' face-on triples).
        let mut face_on_spent = false;
        for &(tier, a, b, c) in &triples {
            // The steep triples get a pre-check budget of their own: the face-on ones of a dense code's
            // data patterns used it all up before them.
            if tier == 2 && !steep_tier {
                steep_tier = true;
                prechecks = 0;
            }
            if face_on_spent && tier < 2 {
                continue;
            }
            let (pa, pb, pc) = (f[a], f[b], f[c]);
            let (mn, mx) = (
                pa.module.min(pb.module).min(pc.module),
                pa.module.max(pb.module).max(pc.module),
            );
            // Module sizes this far apart mean a code seen at a steep angle (or a wrong triple).
            let steep = mx > mn * 1.5;
            let (ax, ay, cx, cy) = (pa.x - pb.x, pa.y - pb.y, pc.x - pb.x, pc.y - pb.y);
            let (la, lc) = (ax.hypot(ay), cx.hypot(cy));
            // Orientation: with y pointing down, top-right x bottom-left must be positive.
            let (tr, bl) = if ax * cy - ay * cx > 0.0 {
                (pa, pc)
            } else {
                (pc, pa)
            };
            // Finder modules are measured along pixel rows and columns: on a code rotated by t, those
            // chords are 1/max(|cos t|, |sin t|) longer than the module (up to 1.41x at 45 degrees).
            let (ct, st) = ((ax / la).abs(), (ay / la).abs());
            let modules_between = if steep {
                // In perspective the module changes along each side: measure each side in the
                // mean module of its own two finders (and its own direction's chord factor).
                let chord = |dx: f64, dy: f64, l: f64| (dx / l).abs().max((dy / l).abs());
                (la / ((pa.module + pb.module) / 2.0 * chord(ax, ay, la))
                    + lc / ((pc.module + pb.module) / 2.0 * chord(cx, cy, lc)))
                    / 2.0
            } else {
                let module = (pa.module + pb.module + pc.module) / 3.0 * ct.max(st);
                (la + lc) / 2.0 / module
            };
            let est_version = ((modules_between + 7.0 - 17.0) / 4.0).round() as i64;
            // From version 7 on, the version information next to the finders names the version
            // exactly (the spacing estimate drifts by a version or more on big codes).
            let mut named = if est_version >= 6 {
                read_version_info(plane, pb, tr, bl, est_version, invert)
            } else {
                None
            };
            // In a steep view the spacing estimate drifts by several versions on a dense code, and the
            // module pitch it implies misses the blocks: read them at each finder's own module.
            if named.is_none() && steep && est_version >= 6 {
                named = read_version_at_own_pitch(plane, pb, tr, bl, est_version, invert);
            }
            // A view foreshortened along one of the code's axes (a label tilted back) gives its two
            // sides different pitches, and the finders' modules (row and column runs, averaged) fit
            // neither: the spacing estimate can be several versions off and the version blocks are
            // then read at the wrong versions' grids. Each side measured in its own finders' pitch
            // along it names the versions to try as well. Not for a steep triple (its own pitch read is
            // above): there the extra versions spent the pre-check budget before the true triple came.
            let side_est = if named.is_none() && est_version >= 6 && !steep {
                version_by_side_pitch(plane, pb, tr, bl, invert)
                    .filter(|&v| (v - est_version).abs() >= 2 && (1..=MAX_VERSION).contains(&v))
            } else {
                None
            };
            if let Some(v) = side_est.filter(|&v| (v - est_version).abs() > 3 && v >= 6) {
                named = read_version_info(plane, pb, tr, bl, v, invert);
            }
            let version = named.unwrap_or(est_version);
            if version <= MAX_VERSION {
                self.max_version.set(self.max_version.get().max(version));
            }
            let mut versions = [est_version, est_version + 1, est_version - 1, 0, 0, 0, 0];
            if steep {
                versions[3] = est_version + 2;
                versions[4] = est_version - 2;
            }
            if let Some(v) = side_est {
                let away = if v > est_version { v + 1 } else { v - 1 };
                versions[5] = v;
                versions[6] = away;
            }
            if let Some(v) = named {
                // A block read far from the spacing estimate may be a data pattern's chance BCH match:
                // the estimate's own versions still follow it. Near it too, the estimate's own version
                // follows a block that names another: a clean version 6 code (which has no version
                // blocks, nor has Model 1) read as 7 on every step, its data where 7's blocks sit a BCH
                // match (2 more of 2,816 frames read, none lost; `noqr` unchanged).
                versions = if (v - est_version).abs() <= 3 {
                    let est = if v != est_version { est_version } else { 0 };
                    [v, est, 0, 0, 0, 0, 0]
                } else {
                    [v, est_version, est_version + 1, est_version - 1, 0, 0, 0]
                };
            }
            // Where the finders' ring edges facing the code meet (version-independent;
            // see `try_grid`): measured once per triple, when a version is first tried, and
            // counted as an attempt (a page of finder-like clutter would otherwise pay for it
            // on every triple).
            let mut edge_point: Option<Option<(f64, f64)>> = None;
            for version in versions {
                // Printer labels carry short payloads; big versions here are clutter and expensive to sample.
                if !(1..=MAX_VERSION).contains(&version) {
                    continue;
                }
                let size = (17 + 4 * version) as usize;
                let edge_point = *edge_point.get_or_insert_with(|| {
                    attempts += 1;
                    // Finder `f`'s ring edge facing the code: paths walk from `f` towards the
                    // corner finder, spread along the corner -> `other` side.
                    let facing = |f: Finder, other: Finder| {
                        ring_edge(
                            plane,
                            f,
                            (pb.x - f.x, pb.y - f.y),
                            (other.x - pb.x, other.y - pb.y),
                            invert,
                        )
                    };
                    facing(tr, bl).and_then(|a| intersect(a, facing(bl, tr)?))
                });
                if let Some(hit) = self.try_grid(
                    plane,
                    pb,
                    tr,
                    bl,
                    size,
                    named == Some(version),
                    edge_point,
                    invert,
                    sampler,
                    &mut attempts,
                    &mut prechecks,
                    &mut equalized,
                    &mut refined,
                    &mut warped,
                    &mut edged,
                    &mut meshed,
                ) {
                    return Some(hit);
                }
                // The steep tier's own budget is halved after the face-on tiers spent theirs (a page of
                // clutter: it reads the same, for less).
                let steep_budget = if face_on_spent {
                    MAX_STEEP_PRECHECKS / 2
                } else {
                    MAX_STEEP_PRECHECKS
                };
                if attempts >= MAX_ATTEMPTS || (steep_tier && prechecks >= steep_budget) {
                    return None;
                }
                if prechecks >= MAX_PRECHECKS {
                    // Not the end of the read: the steep triples come next, with their own budget.
                    face_on_spent = true;
                    break;
                }
            }
        }
        None
    }

    /// Samples the grid spanned by finder centres (top-left `tl`, `tr`, `bl`) for one version, nudging the
    /// unknown fourth corner (perspective) in small steps from the parallelogram guess.
    #[allow(clippy::too_many_arguments)]
    fn try_grid(
        &self,
        plane: &Plane,
        tl: Finder,
        tr: Finder,
        bl: Finder,
        size: usize,
        named: bool,
        edge_point: Option<(f64, f64)>,
        invert: bool,
        sampler: &mut Sampler,
        attempts: &mut usize,
        prechecks: &mut usize,
        equalized: &mut usize,
        refined: &mut usize,
        warped: &mut usize,
        edged: &mut usize,
        meshed: &mut usize,
    ) -> Option<(String, Location)> {
        let span = size as f64 - 7.0;
        let (bx, by) = (tr.x + bl.x - tl.x, tr.y + bl.y - tl.y);
        // Unit vectors along the code's axes, one module long.
        let (ux, uy) = ((tr.x - tl.x) / span, (tr.y - tl.y) / span);
        let (vx, vy) = ((bl.x - tl.x) / span, (bl.y - tl.y) / span);
        let s = size as f64;
        let finders = [(3.5, 3.5), (s - 3.5, 3.5), (3.5, s - 3.5)];
        // Each geometry, with the finder-centre corner opposite `tl` it assumes (None: pinned by the
        // alignment pattern instead).
        let mut geometries: Vec<(Homography, Option<(f64, f64)>)> = Vec::with_capacity(12);
        // The homography through the three finder centres and one more grid point `m` (module
        // coordinates), seen at pixel `p`.
        let through = |m: (f64, f64), p: (f64, f64)| {
            Homography::quad_to_quad(
                [finders[0], finders[1], m, finders[2]],
                [(tl.x, tl.y), (tr.x, tr.y), p, (bl.x, bl.y)],
            )
        };
        // The finder-centre corner opposite `tl`, and the alignment pattern's centre (version 2+).
        let opposite = (s - 3.5, s - 3.5);
        let (ax, ay) = (s - 6.5, s - 6.5);
        // The alignment pattern searched around where `h` puts it, in `h`'s local axes there (one module
        // along u and v).
        let align_near = |h: &Homography| {
            let (p, pu, pv) = (h.map(ax, ay), h.map(ax + 1.0, ay), h.map(ax, ay + 1.0));
            find_alignment(
                plane,
                p,
                (pu.0 - p.0, pu.1 - p.1),
                (pv.0 - p.0, pv.1 - p.1),
                invert,
            )
        };
        // The perspective the finders' module sizes imply (see `perspective_corner`).
        let persp = perspective_corner(tl, tr, bl);
        // Version 2+: the alignment pattern pins the fourth point, perspective included.
        if size >= 25 {
            let guess = (
                tl.x + (ax - 3.5) * ux + (ay - 3.5) * vx,
                tl.y + (ax - 3.5) * uy + (ay - 3.5) * vy,
            );
            let found = find_alignment(plane, guess, (ux, uy), (vx, vy), invert);
            if let Some(h) = through((ax, ay), found) {
                geometries.push((h, None));
            }
            // Strong perspective moves the alignment pattern further than the search reaches: guess it
            // again from the perspective the finders' module sizes imply.
            if let Some(h) = persp.and_then(|br| through(opposite, br)) {
                let guess2 = h.map(ax, ay);
                if (guess2.0 - guess.0).hypot(guess2.1 - guess.1) > 2.0 * ux.hypot(uy) {
                    if let Some(h2) = through((ax, ay), align_near(&h)) {
                        geometries.push((h2, None));
                    }
                }
            }
        }
        // The grid point (s - 7, s - 7) where the top-right finder's ring edge facing the code, extended,
        // meets the bottom-left finder's (`edge_point`, see `ring_edge`): with the three centres it pins
        // the perspective.
        if let Some(h) = edge_point.and_then(|x| through((s - 7.0, s - 7.0), x)) {
            if size >= 25 {
                if let Some(h2) = through((ax, ay), align_near(&h)) {
                    geometries.push((h2, None));
                }
            }
            let br = h.map(opposite.0, opposite.1);
            if let Some(h) = through(opposite, br) {
                geometries.push((h, Some(br)));
            }
        }
        // Parallelogram guess for the outer finder-centre square, nudged for perspective.
        const NUDGES: [(f64, f64); 7] = [
            (0.0, 0.0),
            (1.0, 1.0),
            (-1.0, -1.0),
            (1.0, 0.0),
            (0.0, 1.0),
            (-1.0, 0.0),
            (0.0, -1.0),
        ];
        // The perspective the finders' module sizes imply, when they differ enough to mean one (blur and
        // noise make them differ by a little anyway) and it puts the corner a module or more away.
        let (mn, mx) = (
            tl.module.min(tr.module).min(bl.module),
            tl.module.max(tr.module).max(bl.module),
        );
        if let Some(br) = persp.filter(|_| mx > mn * 1.25) {
            if (br.0 - bx).hypot(br.1 - by) > ux.hypot(uy) {
                if let Some(h) = through(opposite, br) {
                    geometries.push((h, Some(br)));
                }
            }
        }
        // The geometries up to the unnudged parallelogram get their flat read before any rescue; the
        // nudged ones only after (see the stages below).
        let primary = geometries.len() + 1;
        for (du, dv) in NUDGES {
            let br = (bx + du * ux + dv * vx, by + du * uy + dv * vy);
            if let Some(h) = through(opposite, br) {
                geometries.push((h, Some(br)));
            }
        }
        // The corner-based geometry with the best timing pattern that did not read (see the refinement
        // after the loop).
        let mut near_miss: Option<(f32, (f64, f64))> = None;
        // Two stages: first the flat read (one sampling, two classifications, the equaliser) of the
        // geometries up to the unnudged parallelogram, then the rescues that sample again (timing warp,
        // edge grids) of those whose timing patterns fit, then the nudged geometries (flat read and
        // rescues) and the corner refinement. A near-frontal code's parallelogram reads in the first
        // stage even when an earlier geometry (a ring-edge corner a little off) fits its timing patterns
        // and would otherwise get every rescue first; a pixel-snapped code's first geometry gets its edge
        // grid before six nudged corners' flat reads.
        let plain = primary.min(geometries.len());
        // Per geometry from the first stage: its timing pre-check (mean, bent), None when it failed.
        let mut fits: Vec<Option<(f32, bool)>> = Vec::with_capacity(plain + 1);
        let spread = if tl.module >= 2.5 { 0.2 } else { 0.0 };
        // A version 7+ code bent across its middle (a lens's barrel or pincushion distortion, a sheet that
        // is not flat) leaves one homography's grid off by modules in places: sample it through its
        // alignment patterns, cell by cell, when the mesh's own timing patterns fit (a few times per call).
        // `None` when the frame's tap budget is spent (the read ends, as everywhere below: `?`).
        let mut try_mesh = |loc: &Location, sampler: &mut Sampler| -> Option<Option<String>> {
            if size < MESH_MIN_SIZE || *meshed >= MAX_MESHED {
                return Some(None);
            }
            *meshed += 1;
            let Some(mesh) = alignment_mesh(plane, loc, invert) else {
                return Some(None);
            };
            let map = |u: f64, v: f64| mesh.map(u, v);
            let axes = Sampler::timing_precheck_mapped(plane, size, invert, map);
            if (axes[0] + axes[1]) / 2.0 < PRECHECK_MEAN {
                return Some(None);
            }
            if !sampler.can_sample(size, spread) {
                return None;
            }
            sampler.sample_modules_mapped(plane, size, spread, map);
            Some(
                [3, 2]
                    .into_iter()
                    .find_map(|k| sampler.classify_and_read(size, k, invert, 0.7)),
            )
        };
        for rescue in [false, true] {
            let mut k = 0;
            while k < if rescue { geometries.len() } else { plain } {
                let (hom, corner) = geometries[k];
                k += 1;
                let loc = Location {
                    size,
                    span: 1.0,
                    origin: 0.0,
                    hom,
                };
                // The nudged geometries, and one the refinement added, get their flat read in the
                // rescue stage.
                let first = !rescue || k > plain;
                let (tp, bent) = if first {
                    let axes = Sampler::timing_precheck(plane, &loc, invert);
                    let tp = (axes[0] + axes[1]) / 2.0;
                    // One timing pattern fits and the other does not: on a code bent across that one (a
                    // bottle, a can) the flat grid misses the modules that bunch towards the bend's
                    // edges. Only the warp below, which samples where the timing patterns' own edges
                    // are, can read it.
                    let bent = tp < PRECHECK_MEAN && axes[0].max(axes[1]) >= PRECHECK_ONE;
                    let fit = (tp >= PRECHECK_MEAN || bent).then_some((tp, bent));
                    // A geometry whose timing patterns fit is an attempt (it gets sampled and checked);
                    // one that does not cost only the pre-check, and is counted apart.
                    match fit {
                        Some(_) => *attempts += 1,
                        None => *prechecks += 1,
                    }
                    if !rescue {
                        fits.push(fit);
                    }
                    match fit {
                        Some(f) => f,
                        None => continue,
                    }
                } else {
                    match fits[k - 1] {
                        Some(f) => f,
                        None => {
                            // The flat grid's timing patterns do not fit, and no geometry read: where
                            // the version blocks named this version and the finders' modules are alike
                            // (no steep view), the code may be bent, and the first geometry may still
                            // read through the mesh.
                            if named && k == 1 && mx <= mn * 1.25 {
                                if let Some(text) = try_mesh(&loc, sampler)? {
                                    return Some((text, loc));
                                }
                            }
                            continue;
                        }
                    }
                };
                if first {
                    if let Some(c) = corner {
                        if near_miss.is_none_or(|(t, _)| tp > t) {
                            near_miss = Some((tp, c));
                        }
                    }
                    if !sampler.can_sample(size, spread) {
                        return None;
                    }
                    if !bent {
                        if spread > 0.0 {
                            // A clean code reads from one tap a module, at a fifth of the five-tap
                            // sample's cost.
                            sampler.sample_modules(plane, &loc, 0.0);
                            if let Some(text) = sampler.classify_and_read(size, 3, invert, 0.95) {
                                return Some((text, loc));
                            }
                        }
                        sampler.sample_modules(plane, &loc, spread);
                        for k in [3usize, 2] {
                            sampler.classify(k);
                            if invert {
                                sampler.invert();
                            }
                            let mut rounds = 2;
                            if sampler.timing_score(size) < 0.7 {
                                // Blur can smear the timing pattern itself (the finest pattern in the
                                // code): one equaliser round (arithmetic only, no ECC check) may restore
                                // it.
                                if k != 3
                                    || *equalized >= MAX_EQUALIZED
                                    || !sampler.equalize()
                                    || sampler.timing_score(size) < 0.7
                                {
                                    continue;
                                }
                                rounds = 1;
                            }
                            if let Some(text) = sampler.decode(size) {
                                return Some((text, loc));
                            }
                            // The geometry fits (timing pattern reads) but the data did not: undo the
                            // blur's pull between neighbouring modules and try again (a few geometries
                            // per call: bounds time).
                            if k != 3 || *equalized >= MAX_EQUALIZED {
                                continue;
                            }
                            *equalized += 1;
                            for _ in 0..rounds {
                                if !sampler.equalize() {
                                    break;
                                }
                                if let Some(text) = sampler.decode(size) {
                                    return Some((text, loc));
                                }
                            }
                        }
                    }
                    if !rescue {
                        continue;
                    }
                }
                // The geometry fits the timing patterns at their module centres but the data did not
                // read: a bent code (see `timing_warp`) puts its modules off the flat grid between the
                // finders. Sample where the timing patterns' own edges say the modules are (a few times
                // per call).
                if (tp >= 0.8 || bent) && *warped < MAX_WARPED {
                    if let Some((us, vs)) = timing_warp(plane, &loc, invert) {
                        *warped += 1;
                        if !sampler.can_sample(size, spread) {
                            return None;
                        }
                        sampler.sample_modules_at(plane, &loc, &us, &vs, spread);
                        for k in [3, 2] {
                            if let Some(text) = sampler.classify_and_read(size, k, invert, 0.7) {
                                return Some((text, loc));
                            }
                        }
                    }
                }
                // The timing patterns read cleanly and the data did not: sample where the code's own
                // module edges are (see `edge_grids`; a few times per call).
                if tp >= 0.9
                    && tl.module * if self.scale > 0.0 { self.scale } else { 1.0 }
                        <= EDGE_MAX_MODULE_PX
                    && *edged < MAX_EDGE_GRIDS
                {
                    *edged += 1;
                    for (us, vs) in edge_grids(plane, &loc) {
                        if !sampler.can_sample(size, 0.0) {
                            return None;
                        }
                        sampler.sample_modules_at(plane, &loc, &us, &vs, 0.0);
                        if let Some(text) = sampler.classify_and_read(size, 3, invert, 0.7) {
                            return Some((text, loc));
                        }
                    }
                }
                // The timing patterns fit and the data did not read: the code may be bent between them.
                if let Some(text) = try_mesh(&loc, sampler)? {
                    return Some((text, loc));
                }
                // Every geometry failed but one fits the timing pattern well: the corner opposite `tl`
                // is likely off (a steep view, with no alignment pattern to pin it on small versions).
                // Search around it for the corner whose grid samples the sharpest modules, and try that
                // once.
                if rescue
                    && k == geometries.len()
                    && size <= MAX_REFINED_SIZE
                    && *refined < MAX_REFINED
                {
                    if let Some((_, c)) = near_miss.take().filter(|&(tp, _)| tp >= 0.9) {
                        *refined += 1;
                        let score = |br: (f64, f64)| {
                            through(opposite, br).map(|h| {
                                let loc = Location {
                                    size,
                                    span: 1.0,
                                    origin: 0.0,
                                    hom: h,
                                };
                                (Sampler::sharpness(plane, &loc), h)
                            })
                        };
                        let mut best: Option<(f32, (f64, f64), Homography)> = None;
                        for step in [1.0, 0.5] {
                            let centre = best.map_or(c, |b| b.1);
                            for i in -2i32..=2 {
                                for j in -2i32..=2 {
                                    if step < 1.0 && (i.abs() > 1 || j.abs() > 1) {
                                        continue;
                                    }
                                    let (du, dv) = (i as f64 * step, j as f64 * step);
                                    let br = (
                                        centre.0 + du * ux + dv * vx,
                                        centre.1 + du * uy + dv * vy,
                                    );
                                    if let Some((sc, h)) = score(br) {
                                        if best.is_none_or(|b| sc > b.0) {
                                            best = Some((sc, br, h));
                                        }
                                    }
                                }
                            }
                        }
                        if let Some((_, br, h)) = best {
                            if (br.0 - c.0).hypot(br.1 - c.1) > 0.25 * ux.hypot(uy) {
                                geometries.push((h, None));
                            }
                        }
                    }
                }
            }
        }
        None
    }
}

/// Largest code (modules a side) whose corner `try_grid` refines by the sharpness search, and how many
/// refinements one `read` may spend (each samples the grid ~34 times).
const MAX_REFINED_SIZE: usize = 45;
const MAX_REFINED: usize = 2;
/// Geometries per `read` that may be re-sampled at their module edges (see `grid::edge_grids`).
const MAX_EDGE_GRIDS: usize = 2;
/// Largest module, in source-image pixels, `grid::edge_grids` is tried for: pixel-snapped modules of one
/// or two pixels are what it is for.
const EDGE_MAX_MODULE_PX: f64 = 2.5;
/// Geometries per `read` that may be re-sampled along their timing patterns' edges (see `timing_warp`).
const MAX_WARPED: usize = 2;
/// Geometries per `read` that may be re-sampled through their alignment patterns (see `alignment_mesh`),
/// and the smallest code (version 7: three alignment-pattern lines a side) that has a mesh.
const MAX_MESHED: usize = 2;
const MESH_MIN_SIZE: usize = 45;

/// The alignment mesh (see `AlignmentMesh`) of a version 7+ code whose grid `loc` (one homography) roughly
/// fits: each alignment pattern searched around where its already-found neighbours put it (the
/// parallelogram of the three before it; along the first row and column, the flat grid moved as much as
/// the node before it was), the three nodes the finders take from the flat grid (the finders pin it
/// there). `None` below version 7.
fn alignment_mesh(plane: &Plane, loc: &Location, invert: bool) -> Option<AlignmentMesh> {
    let size = loc.size;
    if size < MESH_MIN_SIZE || !(size - 17).is_multiple_of(4) {
        return None;
    }
    let lines: Vec<f64> = alignment_centres((size - 17) / 4)
        .into_iter()
        .map(|c| c as f64 + 0.5)
        .collect();
    let n = lines.len();
    let mut nodes = vec![(0.0, 0.0); n * n];
    for j in 0..n {
        for i in 0..n {
            let (u, v) = (lines[i], lines[j]);
            let flat = loc.module_point(u, v);
            if (i, j) == (0, 0) || (i, j) == (n - 1, 0) || (i, j) == (0, n - 1) {
                nodes[j * n + i] = flat;
                continue;
            }
            let moved = |node: (f64, f64), was: (f64, f64)| {
                (flat.0 + node.0 - was.0, flat.1 + node.1 - was.1)
            };
            let guess = if i > 0 && j > 0 {
                let (a, b, c) = (
                    nodes[j * n + i - 1],
                    nodes[(j - 1) * n + i],
                    nodes[(j - 1) * n + i - 1],
                );
                (a.0 + b.0 - c.0, a.1 + b.1 - c.1)
            } else if i > 0 {
                moved(nodes[j * n + i - 1], loc.module_point(lines[i - 1], v))
            } else {
                moved(nodes[(j - 1) * n + i], loc.module_point(u, lines[j - 1]))
            };
            let (pu, pv) = (loc.module_point(u + 1.0, v), loc.module_point(u, v + 1.0));
            nodes[j * n + i] = find_alignment(
                plane,
                guess,
                (pu.0 - flat.0, pu.1 - flat.1),
                (pv.0 - flat.0, pv.1 - flat.1),
                invert,
            );
        }
    }
    AlignmentMesh::new(lines, &nodes)
}

/// The fourth finder-centre corner (opposite `tl`) of a code seen in perspective, from the three finders'
/// centres and module sizes: a length's scale goes as 1/w, w being the homogeneous coordinate, which is
/// linear across the code; with w = 1 at `tl`, w = m_tl / m at the other two, the corner's w and
/// homogeneous position are the sums, as for a parallelogram. `None` when the module sizes imply a
/// degenerate view.
fn perspective_corner(tl: Finder, tr: Finder, bl: Finder) -> Option<(f64, f64)> {
    let (wr, wb) = (tl.module / tr.module, tl.module / bl.module);
    let w = wr + wb - 1.0;
    if !(0.3..=3.0).contains(&w) {
        return None;
    }
    Some((
        (tr.x * wr + bl.x * wb - tl.x) / w,
        (tr.y * wr + bl.y * wb - tl.y) / w,
    ))
}

/// A straight line `a x + b y = c` with `(a, b)` a unit normal.
type Line = (f64, f64, f64);

/// Total-least-squares line through `pts`, with points more than 1 px off the first fit dropped and the
/// rest fitted again. `None` with fewer than 5 points left, or when the kept points scatter by more than
/// half a pixel (not an edge).
fn fit_line(pts: &[(f64, f64)]) -> Option<Line> {
    let fit = |pts: &mut dyn Iterator<Item = (f64, f64)>| -> Option<(Line, usize)> {
        let (mut n, mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0usize, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (x, y) in pts {
            n += 1;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
        }
        if n < 5 {
            return None;
        }
        let nf = n as f64;
        let (mx, my) = (sx / nf, sy / nf);
        let (cxx, cxy, cyy) = (sxx / nf - mx * mx, sxy / nf - mx * my, syy / nf - my * my);
        // The line runs along the covariance's principal axis; its normal is perpendicular to that.
        let theta = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
        let (a, b) = (-theta.sin(), theta.cos());
        Some(((a, b, a * mx + b * my), n))
    };
    let (first, _) = fit(&mut pts.iter().copied())?;
    let near = |&(x, y): &(f64, f64)| (first.0 * x + first.1 * y - first.2).abs() <= 1.0;
    let (line, _) = fit(&mut pts.iter().copied().filter(near))?;
    let (mut sum, mut n) = (0.0, 0usize);
    for &(x, y) in pts.iter().filter(|p| near(p)) {
        let r = line.0 * x + line.1 * y - line.2;
        sum += r * r;
        n += 1;
    }
    (sum / n as f64 <= 0.25).then_some(line)
}

fn intersect(l: Line, m: Line) -> Option<(f64, f64)> {
    let det = l.0 * m.1 - m.0 * l.1;
    if det.abs() < 0.05 {
        return None;
    }
    Some(((l.2 * m.1 - m.2 * l.1) / det, (l.0 * m.2 - m.0 * l.2) / det))
}

/// Grey levels along the straight path from `origin` in direction `dir` (a unit vector), `steps + 1`
/// samples `step` pixels apart, into `path` (inverted for light-on-dark codes, so dark is low either way).
fn sample_path(
    plane: &Plane,
    origin: (f64, f64),
    dir: (f64, f64),
    steps: usize,
    step: f64,
    invert: bool,
    path: &mut Vec<f32>,
) {
    path.clear();
    for k in 0..=steps {
        let d = k as f64 * step;
        let v = plane.sample(origin.0 + d * dir.0, origin.1 + d * dir.1);
        path.push(if invert { 255.0 - v } else { v });
    }
}

/// Dark-to-light crossings of threshold `mid` along `path` (pixels from its start, samples `step` apart),
/// placed between samples by linear interpolation.
fn crossings(path: &[f32], mid: f32, step: f64, out: &mut Vec<f64>) {
    out.clear();
    for k in 1..path.len() {
        let (a, b) = (path[k - 1], path[k]);
        if a < mid && b >= mid {
            out.push((k as f64 - 1.0 + ((mid - a) / (b - a)) as f64) * step);
        }
    }
}

/// Sampling of the paths through a finder: out to 6 row-measured modules (a row's chord through a finder
/// is at least its module), a third of a pixel apart: (steps, step).
fn finder_path_steps(f: Finder) -> (usize, f64) {
    let reach = 6.0 * f.module.max(1.0);
    // At most 600 samples a path (modules over ~33 px are sampled more coarsely).
    let steps = ((reach * 3.0).ceil() as usize).min(600);
    (steps, reach / steps as f64)
}

/// How far finder `f`'s dark ring reaches from its centre along `dir` (a unit vector), in pixels, with
/// the threshold its path implies. The path crosses dark stone, light ring, dark ring, then light (the
/// separator, on the sides facing the code): its first dark-to-light crossing is 1.5 modules out, its
/// second 3.5. `None` when the path does not show that.
fn ring_reach(
    plane: &Plane,
    f: Finder,
    dir: (f64, f64),
    invert: bool,
    path: &mut Vec<f32>,
    cross: &mut Vec<f64>,
) -> Option<(f32, f64)> {
    let (steps, step) = finder_path_steps(f);
    sample_path(plane, (f.x, f.y), dir, steps, step, invert, path);
    let (lo, hi) = path
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mid = (lo + hi) / 2.0;
    if hi - lo < 16.0 || path[0] >= mid {
        return None;
    }
    crossings(path, mid, step, cross);
    let (stone, ring) = (*cross.first()?, *cross.get(1)?);
    (stone > 0.0 && (1.6..=3.3).contains(&(ring / stone))).then_some((mid, ring))
}

/// Finder `f`'s module pitch along `dir` (a unit vector): its width that way, centre to ring edge on both
/// sides (see `ring_reach`), is 7 modules.
fn pitch_along(
    plane: &Plane,
    f: Finder,
    dir: (f64, f64),
    invert: bool,
    path: &mut Vec<f32>,
    cross: &mut Vec<f64>,
) -> Option<f64> {
    let (_, a) = ring_reach(plane, f, dir, invert, path, cross)?;
    let (_, b) = ring_reach(plane, f, (-dir.0, -dir.1), invert, path, cross)?;
    Some((a + b) / 7.0)
}

/// The version a triple's spacing implies with each side (`tl` to `tr`, `tl` to `bl`) counted in the
/// pitch its own two finders show along it; `None` where a finder's ring does not show on a path.
fn version_by_side_pitch(
    plane: &Plane,
    tl: Finder,
    tr: Finder,
    bl: Finder,
    invert: bool,
) -> Option<i64> {
    let (mut path, mut cross) = (Vec::with_capacity(128), Vec::with_capacity(8));
    let mut modules = 0.0;
    for other in [tr, bl] {
        let (dx, dy) = (other.x - tl.x, other.y - tl.y);
        let dir = unit((dx, dy))?;
        let pitch = (pitch_along(plane, tl, dir, invert, &mut path, &mut cross)?
            + pitch_along(plane, other, dir, invert, &mut path, &mut cross)?)
            / 2.0;
        modules += dx.hypot(dy) / pitch;
    }
    Some(((modules / 2.0 + 7.0 - 17.0) / 4.0).round() as i64)
}

/// `v` scaled to length 1 (`None` for a zero vector).
fn unit(v: (f64, f64)) -> Option<(f64, f64)> {
    let l = v.0.hypot(v.1);
    (l > 1e-9).then(|| (v.0 / l, v.1 / l))
}

/// The outer edge of finder `f`'s dark ring on the side `walk` points to, as a line fitted through where
/// paths parallel to `walk`, spread along `across` (both directions, any length), leave the ring.
/// Perspective keeps lines straight, so this edge, extended, is the code's module line 7 in from the
/// outer border all the way across: two finders' edges meet at a point of the grid that the finder
/// centres alone only guess (zxing-cpp's detector uses the same geometric fact).
///
/// The finder's own centre paths set the scale (see `ring_reach`), so the result does not depend on a
/// version guess: along `walk` it gives the edge's distance, along `across` the module that way. Out from
/// the centre path on each side, each path's edge is the dark-to-light crossing nearest where the two
/// before it predict, so an edge seen obliquely (not square to `walk`) is followed.
fn ring_edge(
    plane: &Plane,
    f: Finder,
    walk: (f64, f64),
    across: (f64, f64),
    invert: bool,
) -> Option<Line> {
    let (walk, across) = (unit(walk)?, unit(across)?);
    let (steps, step) = finder_path_steps(f);
    let (mut path, mut cross) = (Vec::with_capacity(steps + 1), Vec::with_capacity(8));
    let (mid, outer) = ring_reach(plane, f, walk, invert, &mut path, &mut cross)?;
    let local = outer / 3.5;
    // Seen obliquely, the centre path along `across` can leave through the ring's corner: then the
    // module along `walk` spaces the paths.
    let local_across = ring_reach(plane, f, across, invert, &mut path, &mut cross)
        .map_or(local, |(_, side)| side / 3.5);
    let mut pts = Vec::with_capacity(11);
    pts.push((f.x + outer * walk.0, f.y + outer * walk.1));
    for sign in [1.0, -1.0] {
        let (mut last, mut slope) = (outer, 0.0);
        for i in 1..=5 {
            let t = sign * i as f64 * 0.5 * local_across;
            let origin = (f.x + t * across.0, f.y + t * across.1);
            sample_path(plane, origin, walk, steps, step, invert, &mut path);
            crossings(&path, mid, step, &mut cross);
            let want = last + slope;
            let Some(&d) = cross
                .iter()
                .min_by(|a, b| (*a - want).abs().total_cmp(&(*b - want).abs()))
            else {
                break;
            };
            if (d - want).abs() > 0.6 * local {
                break;
            }
            slope = d - last;
            last = d;
            pts.push((origin.0 + d * walk.0, origin.1 + d * walk.1));
        }
    }
    fit_line(&pts)
}

/// Module offset (along the code's u and v axes) of version-information bit i from its finder's centre.
type BitOffset = fn(usize) -> (f64, f64);

/// Reads the version information blocks (6x3 modules left of the top-right finder, 3x6 above the
/// bottom-left one) for each version near `est`, with that version's module pitch, and returns the first
/// version a block names itself (BCH(18,6), at most 3 bits off). Thresholds each block at the middle
/// between its finder's dark centre and the light separator beside the block.
fn read_version_info(
    plane: &Plane,
    tl: Finder,
    tr: Finder,
    bl: Finder,
    est: i64,
    invert: bool,
) -> Option<i64> {
    for version in (est - 3).max(7)..=(est + 3).min(40) {
        let size = (17 + 4 * version) as f64;
        let span = size - 7.0;
        let (ux, uy) = ((tr.x - tl.x) / span, (tr.y - tl.y) / span);
        let (vx, vy) = ((bl.x - tl.x) / span, (bl.y - tl.y) / span);
        for (f, offset) in [(tr, VERSION_BLOCKS[0]), (bl, VERSION_BLOCKS[1])] {
            let at =
                |du: f64, dv: f64| plane.sample(f.x + du * ux + dv * vx, f.y + du * uy + dv * vy);
            if version_block_bits(at, offset, invert).is_some_and(|bits| {
                super::symbol::version_from_bits(bits) == Some(version as usize)
            }) {
                return Some(version);
            }
        }
    }
    None
}

/// Module offset of version-block bit i from its finder's centre along u and v: the block left of the
/// top-right finder, then the one above the bottom-left finder.
const VERSION_BLOCKS: [BitOffset; 2] = [
    |i| ((i % 3) as f64 - 7.0, (i / 3) as f64 - 3.0),
    |i| ((i / 3) as f64 - 3.0, (i % 3) as f64 - 7.0),
];

/// The 18 bits of one version block, `at(u, v)` sampling the grey plane at module offset (u, v) from its
/// finder's centre; None when the finder's dark centre and the light separator beside the block do not
/// differ enough to threshold between them.
fn version_block_bits(
    at: impl Fn(f64, f64) -> f32,
    offset: BitOffset,
    invert: bool,
) -> Option<u32> {
    // The separator between the block and the finder: light in every version.
    let light = if offset(0).0 < -5.0 {
        at(-4.0, 0.0)
    } else {
        at(0.0, -4.0)
    };
    let dark = at(0.0, 0.0);
    if (light - dark).abs() < 8.0 {
        return None;
    }
    let mid = (light + dark) / 2.0;
    let mut bits = 0u32;
    for i in 0..18 {
        let (du, dv) = offset(i);
        bits |= (((at(du, dv) < mid) != invert) as u32) << i;
    }
    Some(bits)
}

/// Reads the version information blocks at each block's own finder's module pitch, for a steep view: the
/// axes' directions come from the finder centres, the module from the finder's own runs (tried 0.8-1.2x).
/// Returns the version a block names (BCH(18,6), at most 3 bits off), if it is within `OWN_PITCH_SPREAD`
/// of `est`.
fn read_version_at_own_pitch(
    plane: &Plane,
    tl: Finder,
    tr: Finder,
    bl: Finder,
    est: i64,
    invert: bool,
) -> Option<i64> {
    let unit = |f: Finder| {
        let (dx, dy) = (f.x - tl.x, f.y - tl.y);
        let l = dx.hypot(dy).max(1e-9);
        (dx / l, dy / l)
    };
    let (du, dv) = (unit(tr), unit(bl));
    // The finders' runs are measured along pixel rows and columns: chords 1/max(|cos|, |sin|) longer than
    // the module on a rotated code.
    let chord = du.0.abs().max(du.1.abs());
    for (f, offset) in [(tr, VERSION_BLOCKS[0]), (bl, VERSION_BLOCKS[1])] {
        for k in [1.0, 0.9, 1.1, 0.8, 1.2] {
            let m = f.module * chord * k;
            let at = |a: f64, b: f64| {
                plane.sample(
                    f.x + (a * du.0 + b * dv.0) * m,
                    f.y + (a * du.1 + b * dv.1) * m,
                )
            };
            let named = version_block_bits(at, offset, invert)
                .and_then(super::symbol::version_from_bits)
                .map(|v| v as i64);
            if let Some(v) = named.filter(|v| (v - est).abs() <= OWN_PITCH_SPREAD) {
                return Some(v);
            }
        }
    }
    None
}

/// Searches +-3 modules around `guess` for the 5x5 alignment pattern (dark ring, light ring, dark centre)
/// by template correlation on the grey plane, in the code's local axes `u`, `v`. Returns its centre (pixels).
fn find_alignment(
    plane: &Plane,
    guess: (f64, f64),
    u: (f64, f64),
    v: (f64, f64),
    invert: bool,
) -> (f64, f64) {
    // Candidate centres are half-module steps in -3..=3 along u and v, and each is scored on the 5x5 module
    // cells around it: every cell centre lies on the half-module lattice -5..=5, so that lattice (21 x 21
    // points) is sampled once and the 169 candidates read from it.
    const N: usize = 21;
    let mut lattice = [0f32; N * N];
    for (j, row) in lattice.chunks_exact_mut(N).enumerate() {
        let my = j as f64 * 0.5 - 5.0;
        for (i, cell) in row.iter_mut().enumerate() {
            let mx = i as f64 * 0.5 - 5.0;
            *cell = plane.sample(guess.0 + mx * u.0 + my * v.0, guess.1 + mx * u.1 + my * v.1);
        }
    }
    // The 5x5 cells of candidate (ci, cj) sit at lattice (ci + 4 + 2k, cj + 4 + 2l), k, l in -2..=2: sums
    // along rows first (the 5 and the inner 3 cells of each lattice row), then down the columns.
    let (mut row5, mut row3) = ([0f32; N * 13], [0f32; N * 13]);
    for j in 0..N {
        let r = &lattice[j * N..(j + 1) * N];
        for ci in 0..13 {
            let i = ci + 4;
            let inner = r[i - 2] + r[i] + r[i + 2];
            row3[j * 13 + ci] = inner;
            row5[j * 13 + ci] = inner + r[i - 4] + r[i + 4];
        }
    }
    let mut best = (f32::MIN, guess);
    for cj in 0..13 {
        let j = cj + 4;
        for ci in 0..13 {
            let col = |rows: &[f32; N * 13], k: usize| rows[k * 13 + ci];
            let inner = col(&row3, j - 2) + col(&row3, j) + col(&row3, j + 2);
            let all = col(&row5, j - 4)
                + col(&row5, j - 2)
                + col(&row5, j)
                + col(&row5, j + 2)
                + col(&row5, j + 4);
            let centre = lattice[j * N + ci + 4];
            // 17 dark cells (the ring and the centre), 8 light ones.
            let (dark, light) = (all - inner + centre, inner - centre);
            let mut score = light / 8.0 - dark / 17.0;
            if invert {
                score = -score;
            }
            if score > best.0 {
                let (di, dj) = (ci as f64 * 0.5 - 3.0, cj as f64 * 0.5 - 3.0);
                best = (
                    score,
                    (guess.0 + di * u.0 + dj * v.0, guess.1 + di * u.1 + dj * v.1),
                );
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_grid_finds_the_first_near_cluster_as_a_scan_of_every_cluster_does() {
        // Random row hits merged as `find_finders` merges them (running means move clusters across cells),
        // on a plane with hits up to and past its edges and radii from under a cell to several cells: the
        // grid names the same cluster as the linear scan it replaced, every time.
        let (w, h) = (300usize, 200usize);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut grid, mut clusters) = (ClusterGrid::default(), Vec::<Finder>::new());
        grid.reset(w, h);
        let (mut merged, mut moved) = (0, 0);
        for _ in 0..20_000 {
            let (x, y) = (rnd() * (w as f64 + 20.0) - 10.0, rnd() * h as f64);
            let r = 2.0 * (0.5 + rnd() * rnd() * 30.0);
            let want = clusters
                .iter()
                .position(|f| (f.x - x).abs() < r && (f.y - y).abs() < r);
            assert_eq!(
                grid.first_near(&clusters, x, y, r),
                want,
                "hit ({x}, {y}) r {r}"
            );
            match want {
                Some(k) => {
                    let f = &mut clusters[k];
                    let before = grid.cell_of(f.x, f.y);
                    let n = f.hits as f64;
                    f.x = (f.x * n + x) / (n + 1.0);
                    f.y = (f.y * n + y) / (n + 1.0);
                    f.hits += 1;
                    moved += (grid.cell_of(f.x, f.y) != before) as usize;
                    grid.moved(k, f.x, f.y);
                    merged += 1;
                }
                None if clusters.len() < MAX_CLUSTERS => {
                    grid.push(x, y);
                    clusters.push(Finder {
                        x,
                        y,
                        module: r / 2.0,
                        hits: 1,
                        oblique: 0,
                    });
                }
                None => {}
            }
        }
        assert!(
            clusters.len() > 100 && merged > 1_000 && moved > 100,
            "{} {merged} {moved}",
            clusters.len()
        );
    }

    /// The finder centred at module point (u, v) of a view through `h`, with its module measured as the
    /// map's local scale there (the geometric mean of the two axes' module lengths).
    fn finder_at(h: &Homography, u: f64, v: f64) -> Finder {
        let (x, y) = h.map(u, v);
        let (xu, yu) = h.map(u + 1.0, v);
        let (xv, yv) = h.map(u, v + 1.0);
        let module = ((xu - x).hypot(yu - y) * (xv - x).hypot(yv - y)).sqrt();
        Finder {
            x,
            y,
            module,
            hits: 9,
            oblique: 0,
        }
    }

    #[test]
    fn perspective_corner_recovers_a_projective_view() {
        // Finder centres of a 25-module code at (3.5, 3.5), (21.5, 3.5), (3.5, 21.5), seen through a
        // homography that shrinks the far side; module sizes measured as the map's local scale there.
        let h = Homography::quad_to_quad(
            [(0.0, 0.0), (25.0, 0.0), (25.0, 25.0), (0.0, 25.0)],
            [
                (100.0, 100.0),
                (300.0, 130.0),
                (260.0, 280.0),
                (110.0, 330.0),
            ],
        )
        .unwrap();
        let at = |u, v| finder_at(&h, u, v);
        let (tl, tr, bl) = (at(3.5, 3.5), at(21.5, 3.5), at(3.5, 21.5));
        let want = h.map(21.5, 21.5);
        let got = perspective_corner(tl, tr, bl).unwrap();
        let parallelogram = (tr.x + bl.x - tl.x, tr.y + bl.y - tl.y);
        let err = (got.0 - want.0).hypot(got.1 - want.1);
        let err_par = (parallelogram.0 - want.0).hypot(parallelogram.1 - want.1);
        assert!(
            err < err_par / 3.0,
            "perspective {err:.2} px off, parallelogram {err_par:.2}"
        );
    }

    #[test]
    fn finder_edges_meet_at_the_grid_point_a_steep_view_puts_there() {
        // A 25-module code (finders, random data, light separators) seen steeply: the far side about 60 %
        // of the near one. Rendered at 4x4 sub-samples a pixel.
        let s = 25.0;
        let h = Homography::quad_to_quad(
            [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)],
            [(40.0, 30.0), (150.0, 55.0), (140.0, 125.0), (45.0, 170.0)],
        )
        .unwrap();
        let back = Homography::quad_to_quad(
            [(40.0, 30.0), (150.0, 55.0), (140.0, 125.0), (45.0, 170.0)],
            [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)],
        )
        .unwrap();
        let mut seed = 7u32;
        let mut data = [false; 625];
        for d in data.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *d = seed >> 16 & 1 == 1;
        }
        let dark = |u: f64, v: f64| -> bool {
            if !(0.0..s).contains(&u) || !(0.0..s).contains(&v) {
                return false;
            }
            let (i, j) = (u as i32, v as i32);
            for (fx, fy) in [(0, 0), (18, 0), (0, 18)] {
                let (di, dj) = (i - fx, j - fy);
                if (-1..=7).contains(&di) && (-1..=7).contains(&dj) {
                    let ring = (di - 3).abs().max((dj - 3).abs());
                    return ring <= 3 && ring != 2;
                }
            }
            data[(j * 25 + i) as usize]
        };
        let mut plane = Plane::supersampled(200, 200, |x, y| {
            let (u, v) = back.map(x, y);
            if dark(u, v) {
                30.0
            } else {
                220.0
            }
        });
        let at = |u, v| finder_at(&h, u, v);
        let (tl, tr, bl) = (at(3.5, 3.5), at(21.5, 3.5), at(3.5, 21.5));
        // The code's axes as `read` has them: from the finder centres alone.
        let span = s - 7.0;
        let (u, v) = (
            ((tr.x - tl.x) / span, (tr.y - tl.y) / span),
            ((bl.x - tl.x) / span, (bl.y - tl.y) / span),
        );
        let right = ring_edge(&plane, tr, (-u.0, -u.1), v, false).expect("top-right finder's edge");
        let below =
            ring_edge(&plane, bl, (-v.0, -v.1), u, false).expect("bottom-left finder's edge");
        let got = intersect(right, below).unwrap();
        for (name, l, pts) in [
            (
                "right",
                right,
                [
                    h.map(s - 7.0, 0.0),
                    h.map(s - 7.0, 7.0),
                    h.map(s - 7.0, s - 7.0),
                ],
            ),
            (
                "below",
                below,
                [
                    h.map(0.0, s - 7.0),
                    h.map(7.0, s - 7.0),
                    h.map(s - 7.0, s - 7.0),
                ],
            ),
        ] {
            // Each edge line runs through its true grid line: at both ends of the finder's side and
            // where it meets the other, far from where it was measured.
            let off = pts.map(|(x, y)| l.0 * x + l.1 * y - l.2);
            assert!(
                off.iter().all(|o| o.abs() < 0.3),
                "{name} edge off its grid line by {off:?} px"
            );
        }
        let want = h.map(s - 7.0, s - 7.0);
        let err = (got.0 - want.0).hypot(got.1 - want.1);
        assert!(err < 0.5, "edge point {got:?} is {err:.2} px from {want:?}");
        // The parallelogram guess for the same point is several pixels off.
        let par = (
            tl.x + (s - 10.5) * (u.0 + v.0),
            tl.y + (s - 10.5) * (u.1 + v.1),
        );
        assert!((par.0 - want.0).hypot(par.1 - want.1) > 4.0 * err.max(0.5));
        // An inverted code (light modules on dark) needs `invert`.
        for p in plane.data.iter_mut() {
            *p = 255 - *p;
        }
        assert!(ring_edge(&plane, tr, (-u.0, -u.1), v, true).is_some());
    }

    #[test]
    fn a_foreshortened_finder_is_kept_for_the_steep_triples_only() {
        // A finder pattern 4 px a module across and `my` px a module down (a view tilted about the
        // horizontal axis), centred in a light field.
        let finders_of = |my: isize| {
            let (w, h, mx) = (60usize, 60usize, 4isize);
            let mut bits = vec![0u8; w * h];
            let (x0, y0) = (30 - 14, 30 - 7 * my / 2);
            for y in y0..y0 + 7 * my {
                for x in x0..x0 + 28 {
                    let (i, j) = ((x - x0) / mx, (y - y0) / my);
                    let ring = (i - 3).abs().max((j - 3).abs());
                    bits[y as usize * w + x as usize] = (ring != 2) as u8;
                }
            }
            let mut out = Vec::new();
            find_finders(
                &bits,
                w,
                h,
                &mut Vec::new(),
                &mut ClusterGrid::default(),
                &mut out,
            );
            out
        };
        // Face-on: kept, not oblique.
        let square = finders_of(4);
        assert_eq!(square.len(), 1);
        assert!(!square[0].is_oblique());
        // Half as tall (2x): kept, oblique.
        let tilted = finders_of(2);
        assert_eq!(tilted.len(), 1, "{tilted:?}");
        assert!(tilted[0].is_oblique());
        // A quarter as tall (4x): not a finder any more.
        assert!(finders_of(1).is_empty());
    }

    #[test]
    fn diagonal_check_tells_a_finder_from_a_cross() {
        // A finder pattern at 4 px a module, centred at (20, 20) in a 40x40 light field.
        let (w, h, m) = (40usize, 40usize, 4isize);
        let mut finder = vec![0u8; w * h];
        let mut cross = vec![0u8; w * h];
        // The pattern's 7x7 modules span pixels 6..34; module (i, j) is in ring max(|i - 3|, |j - 3|):
        // rings 0-1 are the dark stone, 2 the light ring, 3 the dark outer ring.
        for y in 6..34isize {
            for x in 6..34isize {
                let (i, j) = ((x - 6) / m, (y - 6) / m);
                let ring = (i - 3).abs().max((j - 3).abs());
                let dark = (ring != 2) as u8;
                finder[y as usize * w + x as usize] = dark;
                // The same profile, only on the three rows and columns of modules through the centre.
                if (i - 3).abs() <= 1 || (j - 3).abs() <= 1 {
                    cross[y as usize * w + x as usize] = dark;
                }
            }
        }
        assert!(check_diagonal(&finder, w, h, 20.0, 20.0, 4.0));
        assert!(!check_diagonal(&cross, w, h, 20.0, 20.0, 4.0));
    }

    #[test]
    fn finder_ratios() {
        assert!(ratio_ok([2, 2, 6, 2, 2]).is_some());
        assert!(ratio_ok([3, 1, 7, 1, 2]).is_some());
        assert!(ratio_ok([2, 2, 2, 2, 2]).is_none());
        assert!(ratio_ok([0, 0, 1, 0, 0]).is_none());
        // The pre-tests (the centre stone longest, then integers only) accept exactly what the tolerances
        // themselves accept.
        let reference = |runs: [usize; 5]| {
            let total: usize = runs.iter().sum();
            let u = total as f64 / 7.0;
            let near = |r: usize, want: f64, tol: f64| (r as f64 - want * u).abs() <= tol * u;
            total >= 7
                && near(runs[0], 1.0, 0.7)
                && near(runs[1], 1.0, 0.7)
                && near(runs[2], 3.0, 1.2)
                && near(runs[3], 1.0, 0.7)
                && near(runs[4], 1.0, 0.7)
        };
        let mut accepted = 0;
        for a in 0..=10 {
            for b in 0..=10 {
                for c in 0..=30 {
                    for d in 0..=10 {
                        for e in 0..=10 {
                            let runs = [a, b, c, d, e];
                            assert_eq!(ratio_ok(runs).is_some(), reference(runs), "{runs:?}");
                            accepted += reference(runs) as usize;
                        }
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
    }

    #[test]
    fn row_runs_match_a_pixel_walk() {
        let mut x = 7u32;
        let mut bounds = Vec::new();
        for w in [1usize, 2, 7, 8, 9, 16, 17, 63, 200] {
            for density in [1u32, 3, 8, 30] {
                let row: Vec<u8> = (0..w)
                    .map(|_| {
                        x = x.wrapping_mul(1103515245).wrapping_add(12345);
                        (x >> 16).is_multiple_of(density) as u8
                    })
                    .collect();
                let mut want = Vec::new();
                let mut start = 0;
                for i in 1..=w {
                    if i == w || row[i] != row[start] {
                        want.push((start, i - start));
                        start = i;
                    }
                }
                bounds.clear();
                bounds.resize(w + 1, u32::MAX);
                let n = row_runs(&row, &mut bounds);
                let runs: Vec<(usize, usize)> = (0..n)
                    .map(|k| (bounds[k] as usize, (bounds[k + 1] - bounds[k]) as usize))
                    .collect();
                assert_eq!(runs, want, "w={w} density={density}");
            }
        }
    }
}
