//! Module-grid geometry and the sampling of a located code: the grey image is sampled bilinearly at module
//! centres and thresholded in module space (robust to noise, blur and uneven light), then read by our symbol
//! reader (`symbol`).

use super::filters::Plane;

/// Projective map from the unit square onto a quadrilateral (Heckbert's square-to-quad).
#[derive(Debug, Clone, Copy)]
pub struct Homography {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    f: f64,
    g: f64,
    h: f64,
    i: f64,
}

impl Homography {
    /// `q` = images of (0,0), (1,0), (1,1), (0,1). `None` for degenerate quads.
    pub fn square_to_quad(q: [(f64, f64); 4]) -> Option<Self> {
        let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = q;
        if q.iter().any(|&(x, y)| !x.is_finite() || !y.is_finite()) {
            return None;
        }
        // A collapsed quad (no area) cannot carry a code.
        let area =
            ((x0 * y1 - x1 * y0) + (x1 * y2 - x2 * y1) + (x2 * y3 - x3 * y2) + (x3 * y0 - x0 * y3))
                / 2.0;
        if area.abs() < 1.0 {
            return None;
        }
        let (dx3, dy3) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
        let hom = if dx3.abs() < 1e-9 && dy3.abs() < 1e-9 {
            Homography {
                a: x1 - x0,
                b: x2 - x1,
                c: x0,
                d: y1 - y0,
                e: y2 - y1,
                f: y0,
                g: 0.0,
                h: 0.0,
                i: 1.0,
            }
        } else {
            let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
            let den = dx1 * dy2 - dx2 * dy1;
            if den.abs() < 1e-12 {
                return None;
            }
            let g = (dx3 * dy2 - dx2 * dy3) / den;
            let h = (dx1 * dy3 - dx3 * dy1) / den;
            Homography {
                a: x1 - x0 + g * x1,
                b: x3 - x0 + h * x3,
                c: x0,
                d: y1 - y0 + g * y1,
                e: y3 - y0 + h * y3,
                f: y0,
                g,
                h,
                i: 1.0,
            }
        };
        // Reject folded / near-degenerate quads: the map must stay finite over the square.
        for &(u, v) in &[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5)] {
            let den = hom.g * u + hom.h * v + 1.0;
            if den.abs() < 1e-6 {
                return None;
            }
        }
        Some(hom)
    }

    #[inline]
    pub fn map(&self, u: f64, v: f64) -> (f64, f64) {
        let (x, y, _) = self.map_weighted(u, v);
        (x, y)
    }

    /// [`map`](Self::map) and the homogeneous weight `w` it divided by: points whose `w` has opposite signs
    /// lie on opposite sides of the plane's horizon (one of them behind the camera).
    #[inline]
    pub(crate) fn map_weighted(&self, u: f64, v: f64) -> (f64, f64, f64) {
        let w = self.g * u + self.h * v + self.i;
        (
            (self.a * u + self.b * v + self.c) / w,
            (self.d * u + self.e * v + self.f) / w,
            w,
        )
    }

    /// Shifts the image by (dx, dy) in place: afterwards `map(p)` is the old `map(p)` plus (dx, dy).
    pub(crate) fn translate(&mut self, dx: f64, dy: f64) {
        self.a += dx * self.g;
        self.b += dx * self.h;
        self.c += dx * self.i;
        self.d += dy * self.g;
        self.e += dy * self.h;
        self.f += dy * self.i;
    }

    /// The map taking quad `src` onto quad `dst` (corresponding corners), via the unit square.
    pub fn quad_to_quad(src: [(f64, f64); 4], dst: [(f64, f64); 4]) -> Option<Self> {
        let to_src = Self::square_to_quad(src)?;
        let to_dst = Self::square_to_quad(dst)?;
        Some(to_dst.then_after(&to_src.inverse()?))
    }

    fn matrix(&self) -> [f64; 9] {
        [
            self.a, self.b, self.c, self.d, self.e, self.f, self.g, self.h, self.i,
        ]
    }

    fn from_array(m: [f64; 9]) -> Self {
        let [a, b, c, d, e, f, g, h, i] = m;
        Homography {
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
        }
    }

    fn from_matrix(m: [f64; 9]) -> Option<Self> {
        if m.iter().any(|v| !v.is_finite()) {
            return None;
        }
        Some(Self::from_array(m))
    }

    /// The inverse map (image to unit square); `None` if singular or not finite.
    pub(crate) fn inverse(&self) -> Option<Self> {
        let [a, b, c, d, e, f, g, h, i] = self.matrix();
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        if det.abs() < 1e-12 {
            return None;
        }
        // Adjugate; a homography is defined up to scale, so dividing by det is optional but keeps values tame.
        Self::from_matrix(
            [
                e * i - f * h,
                c * h - b * i,
                b * f - c * e,
                f * g - d * i,
                a * i - c * g,
                c * d - a * f,
                d * h - e * g,
                b * g - a * h,
                a * e - b * d,
            ]
            .map(|v| v / det),
        )
    }

    /// `self` applied after `first`: p -> self(first(p)).
    fn then_after(&self, first: &Self) -> Self {
        let (x, y) = (self.matrix(), first.matrix());
        let mut m = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                m[r * 3 + c] = (0..3).map(|k| x[r * 3 + k] * y[k * 3 + c]).sum();
            }
        }
        Self::from_array(m)
    }
}

/// Whether (x, y) lies inside the convex quadrilateral `q` (either winding; a point on an edge counts as
/// inside).
pub fn inside_convex_quad(q: &[(f64, f64); 4], x: f64, y: f64) -> bool {
    let mut sign = 0.0f64;
    for i in 0..4 {
        let (ax, ay) = q[i];
        let (bx, by) = q[(i + 1) % 4];
        let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        if cross != 0.0 {
            if sign != 0.0 && cross.signum() != sign {
                return false;
            }
            sign = cross.signum();
        }
    }
    true
}

/// A located code: `size` modules per side; `hom` maps module-space point m to pixel coordinates (pixel
/// centres at +0.5) as `hom((m - origin) / span)`, so the unit square may span any module-space square.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    pub size: usize,
    pub span: f64,
    pub origin: f64,
    pub hom: Homography,
}

impl Location {
    /// Pixel position of module-space point (mx, my), in modules from the outer top-left corner.
    #[inline]
    pub fn module_point(&self, mx: f64, my: f64) -> (f64, f64) {
        self.hom.map(
            (mx - self.origin) / self.span,
            (my - self.origin) / self.span,
        )
    }

    /// Outer corners: top-left, top-right, bottom-right, bottom-left (in the code's own orientation).
    pub fn corners(&self) -> [(f64, f64); 4] {
        let s = self.size as f64;
        [
            self.module_point(0.0, 0.0),
            self.module_point(s, 0.0),
            self.module_point(s, s),
            self.module_point(0.0, s),
        ]
    }
}

/// A code's module space mapped to pixels piecewise, through its alignment patterns (version 7 and up): a
/// lens's barrel or pincushion distortion, or a sheet that is not flat, bends the grid more than one
/// homography through the finders and the last alignment pattern follows, and each cell between four
/// neighbouring pattern centres gets its own homography through them.
pub struct AlignmentMesh {
    /// Module-space coordinates of the node lines (the pattern centres, `c + 0.5`), both axes.
    lines: Vec<f64>,
    /// Per cell (row-major, `lines.len() - 1` a side): module space to pixels.
    cells: Vec<Homography>,
}

impl AlignmentMesh {
    /// Builds the mesh from the pixel centres of the nodes (row-major, `lines.len()` a side); `None` when a
    /// cell's four nodes make no homography.
    pub fn new(lines: Vec<f64>, nodes: &[(f64, f64)]) -> Option<Self> {
        let n = lines.len();
        debug_assert_eq!(nodes.len(), n * n);
        let mut cells = Vec::with_capacity((n - 1) * (n - 1));
        for j in 0..n - 1 {
            for i in 0..n - 1 {
                let node = |a: usize, b: usize| nodes[b * n + a];
                cells.push(Homography::quad_to_quad(
                    [
                        (lines[i], lines[j]),
                        (lines[i + 1], lines[j]),
                        (lines[i + 1], lines[j + 1]),
                        (lines[i], lines[j + 1]),
                    ],
                    [
                        node(i, j),
                        node(i + 1, j),
                        node(i + 1, j + 1),
                        node(i, j + 1),
                    ],
                )?);
            }
        }
        Some(Self { lines, cells })
    }

    /// The pixel at module-space point (u, v): the homography of the cell it lies in (the border cells
    /// reach out to the code's edges).
    pub fn map(&self, u: f64, v: f64) -> (f64, f64) {
        let n = self.lines.len();
        let cell = |t: f64| self.lines[1..n - 1].iter().take_while(|&&l| t >= l).count();
        self.cells[cell(v) * (n - 1) + cell(u)].map(u, v)
    }
}

/// Reusable buffers for re-sampling.
#[derive(Default)]
pub struct Sampler {
    /// Code size (modules per side) of the last `sample_modules`.
    sampled: usize,
    samples: Vec<f32>,
    sat: Vec<f32>,
    dark: Vec<bool>,
    /// ECC checks (`decode` calls) left for the current frame; see `set_budget`.
    budget: usize,
    /// Module taps (grey-plane samples of module centres) left for the current frame; see `set_budget`.
    taps: usize,
    /// `equalize` scratch: per module, its model terms (see `equalize`) and its sample less the local mean.
    eq: Vec<([f64; EQ_TERMS], f64)>,
}

/// A geometry passes the timing pre-check (see `Sampler::timing_precheck`) with both timing patterns
/// scoring this on average, or one of them `PRECHECK_ONE` (a bent code).
pub const PRECHECK_MEAN: f32 = 0.75;
pub const PRECHECK_ONE: f32 = 0.9;

impl Sampler {
    /// Samples every module centre of `loc` on `plane` into `self.samples`.
    /// `spread` > 0 averages 5 taps across the module (noise); 0 takes the centre only (tiny modules).
    /// [`Sampler::classify`] then thresholds them, as often as needed (other `k`) without re-sampling.
    pub fn sample_modules(&mut self, plane: &Plane, loc: &Location, spread: f64) {
        let s = loc.size;
        self.samples.clear();
        self.taps = self
            .taps
            .saturating_sub(s * s * if spread > 0.0 { 5 } else { 1 });
        // Module (x, y)'s centre is u = x * k + u0 in the homography's unit square: its numerators and
        // denominator are linear in x, so each row is walked by adding steps (one division per module).
        let hm = &loc.hom;
        let k = 1.0 / loc.span;
        for y in 0..s {
            let v = ((y as f64 + 0.5) - loc.origin) * k;
            let u0 = (0.5 - loc.origin) * k;
            let (mut nx, mut ny, mut dn) = (
                hm.a * u0 + hm.b * v + hm.c,
                hm.d * u0 + hm.e * v + hm.f,
                hm.g * u0 + hm.h * v + hm.i,
            );
            let (sx, sy, sd) = (hm.a * k, hm.d * k, hm.g * k);
            for _ in 0..s {
                let inv = 1.0 / dn;
                let (px, py) = (nx * inv, ny * inv);
                let val = if spread > 0.0 {
                    // Taps `spread` modules either side along both axes, through the map's derivative at
                    // the centre (the map is locally affine over a fraction of a module).
                    let (ux, uy) = ((sx - px * sd) * inv * spread, (sy - py * sd) * inv * spread);
                    let (tv, tvd) = (hm.b * k, hm.h * k);
                    let (vx, vy) = (
                        (tv - px * tvd) * inv * spread,
                        (hm.e * k - py * tvd) * inv * spread,
                    );
                    (plane.sample(px, py)
                        + plane.sample(px - ux, py - uy)
                        + plane.sample(px + ux, py + uy)
                        + plane.sample(px - vx, py - vy)
                        + plane.sample(px + vx, py + vy))
                        / 5.0
                } else {
                    plane.sample(px, py)
                };
                self.samples.push(val);
                nx += sx;
                ny += sy;
                dn += sd;
            }
        }
        self.finish_samples(s);
    }

    /// Samples module (x, y) at module-space point (`us[x]`, `vs[y]`) instead of its nominal centre
    /// (see [`timing_warp`]); otherwise as [`Sampler::sample_modules`].
    pub fn sample_modules_at(
        &mut self,
        plane: &Plane,
        loc: &Location,
        us: &[f64],
        vs: &[f64],
        spread: f64,
    ) {
        debug_assert!(us.len() == loc.size && vs.len() == loc.size);
        self.sample_points(
            plane,
            loc.size,
            spread,
            |x, y| (us[x], vs[y]),
            |u, v| loc.module_point(u, v),
        );
    }

    /// Samples module (x, y) at pixel `map(x + 0.5, y + 0.5)` (module-space point to pixel; see
    /// [`AlignmentMesh`]); otherwise as [`Sampler::sample_modules`].
    pub fn sample_modules_mapped(
        &mut self,
        plane: &Plane,
        size: usize,
        spread: f64,
        map: impl Fn(f64, f64) -> (f64, f64),
    ) {
        self.sample_points(
            plane,
            size,
            spread,
            |x, y| (x as f64 + 0.5, y as f64 + 0.5),
            map,
        );
    }

    /// Samples module (x, y) of a `size`-module code at module-space point `point(x, y)`, taken to pixels by
    /// `map`: one tap, or with `spread` > 0 the mean of five (the point and `spread` modules either side
    /// along both axes).
    fn sample_points(
        &mut self,
        plane: &Plane,
        size: usize,
        spread: f64,
        point: impl Fn(usize, usize) -> (f64, f64),
        map: impl Fn(f64, f64) -> (f64, f64),
    ) {
        let s = size;
        self.samples.clear();
        self.taps = self
            .taps
            .saturating_sub(s * s * if spread > 0.0 { 5 } else { 1 });
        for y in 0..s {
            for x in 0..s {
                let (u, v) = point(x, y);
                let tap = |du: f64, dv: f64| {
                    let (px, py) = map(u + du, v + dv);
                    plane.sample(px, py)
                };
                let val = if spread > 0.0 {
                    (tap(0.0, 0.0)
                        + tap(-spread, 0.0)
                        + tap(spread, 0.0)
                        + tap(0.0, -spread)
                        + tap(0.0, spread))
                        / 5.0
                } else {
                    tap(0.0, 0.0)
                };
                self.samples.push(val);
            }
        }
        self.finish_samples(s);
    }

    /// Builds the module-space summed-area table of the samples just taken (for the local threshold).
    fn finish_samples(&mut self, s: usize) {
        let st = s + 1;
        self.sat.clear();
        self.sat.resize(st * st, 0.0);
        for y in 0..s {
            let mut row = 0.0;
            for x in 0..s {
                row += self.samples[y * s + x];
                self.sat[(y + 1) * st + x + 1] = self.sat[y * st + x + 1] + row;
            }
        }
        self.sampled = s;
    }

    /// Mean of the sampled module values in the (2k+1)² neighbourhood of module (x, y), clipped at the edges,
    /// from the summed-area table `sat`.
    #[inline]
    fn local_mean(&self, x: usize, y: usize, k: usize) -> f32 {
        let (s, st) = (self.sampled, self.sampled + 1);
        let (y0, y1) = (y.saturating_sub(k), (y + k + 1).min(s));
        let (x0, x1) = (x.saturating_sub(k), (x + k + 1).min(s));
        let sum = self.sat[y1 * st + x1] - self.sat[y0 * st + x1] - self.sat[y1 * st + x0]
            + self.sat[y0 * st + x0];
        sum / ((y1 - y0) * (x1 - x0)) as f32
    }

    /// Classifies each module of the last [`Sampler::sample_modules`] against the mean of its (2k+1)^2 module
    /// neighbourhood. Fills `self.dark`.
    pub fn classify(&mut self, k: usize) {
        let s = self.sampled;
        self.dark.clear();
        for y in 0..s {
            for x in 0..s {
                let mean = self.local_mean(x, y, k);
                self.dark.push(self.samples[y * s + x] < mean);
            }
        }
    }

    /// How crisply `loc`'s grid lands on module centres: the mean distance of single-tap module samples
    /// from their mean (a grid off by part of a module samples edges, nearer the middle grey).
    pub fn sharpness(plane: &Plane, loc: &Location) -> f32 {
        let s = loc.size;
        let mut vals = Vec::with_capacity(s * s);
        for y in 0..s {
            for x in 0..s {
                let (px, py) = loc.module_point(x as f64 + 0.5, y as f64 + 0.5);
                vals.push(plane.sample(px, py));
            }
        }
        let mean = vals.iter().sum::<f32>() / vals.len() as f32;
        vals.iter().map(|v| (v - mean).abs()).sum::<f32>() / vals.len() as f32
    }

    /// Cheap pre-check before a full sample: samples only the two timing patterns (single taps) and returns,
    /// for row 6 and for column 6, the fraction of their modules that are darker/lighter than their two
    /// neighbours as the alternation demands.
    ///
    /// A geometry passes when the mean of the two is `PRECHECK_MEAN` or more, or one of them `PRECHECK_ONE`
    /// or more (a bent code). The two patterns are walked together, and the walk stops as soon as the misses
    /// so far rule both out (with a margin over float rounding): then it returns [0.0, 0.0]. Most wrong
    /// geometries stop half way.
    pub fn timing_precheck(plane: &Plane, loc: &Location, invert: bool) -> [f32; 2] {
        Self::timing_precheck_mapped(plane, loc.size, invert, |u, v| loc.module_point(u, v))
    }

    /// [`Sampler::timing_precheck`] of a code of `size` modules whose module-space points `map` takes to
    /// pixels (see [`AlignmentMesh`]).
    pub fn timing_precheck_mapped(
        plane: &Plane,
        size: usize,
        invert: bool,
        map: impl Fn(f64, f64) -> (f64, f64),
    ) -> [f32; 2] {
        let s = size;
        if s < 21 {
            return [0.0; 2];
        }
        let n = s - 16;
        let at = |axis: usize, i: usize| {
            let (mx, my) = if axis == 0 {
                (i as f64 + 0.5, 6.5)
            } else {
                (6.5, i as f64 + 0.5)
            };
            let (px, py) = map(mx, my);
            plane.sample(px, py)
        };
        // Per axis: the two last samples, and the modules that alternate as they should.
        let mut win = [(at(0, 7), at(0, 8)), (at(1, 7), at(1, 8))];
        let mut good = [0usize; 2];
        // The best each axis can still reach, in hundredths of `n` (no rounding): the walk ends when
        // neither can pass alone and the two cannot together.
        let (one, mean) = (
            (PRECHECK_ONE * 100.0) as usize - 1,
            (PRECHECK_MEAN * 200.0) as usize - 2,
        );
        for (done, i) in (8..s - 8).enumerate() {
            let want_dark = (i % 2 == 0) != invert;
            for axis in 0..2 {
                let (a, b) = win[axis];
                let c = at(axis, i + 1);
                good[axis] += ((b * 2.0 < a + c) == want_dark) as usize;
                win[axis] = (b, c);
            }
            let best = |axis: usize| 100 * (n - (done + 1 - good[axis]));
            if best(0) < one * n && best(1) < one * n && best(0) + best(1) < mean * n {
                return [0.0; 2];
            }
        }
        good.map(|g| g as f32 / n as f32)
    }

    /// Fraction of timing-pattern modules (row 6 and column 6 between the finders) the last classification
    /// gets right. A wrong geometry scores ~0.5, a right one near 1; used to skip hopeless ECC attempts.
    pub fn timing_score(&self, size: usize) -> f32 {
        if size < 21 || self.dark.len() != size * size {
            return 0.0;
        }
        let mut good = 0;
        for i in 8..size - 8 {
            let want = i % 2 == 0;
            good += (self.dark[6 * size + i] == want) as usize
                + (self.dark[i * size + 6] == want) as usize;
        }
        good as f32 / (2 * (size - 16)) as f32
    }

    /// Blur equaliser in module space: re-classifies every module of the last classification with a model of
    /// inter-module blur. Each sample, less its (7x7-module) local mean, is fitted by least squares as
    /// `a + b*dark + c1*(dark left/right neighbours) + c2*(up/down) + e1*(one diagonal) + e2*(the other)`
    /// under the current labels (separate axes: motion blur is directional), then each module takes the
    /// label whose prediction is nearer, given its neighbours' labels (outside the grid is the light quiet
    /// zone). A blurred small module is pulled towards its neighbours' grey; this removes that pull instead of
    /// thresholding it. Returns false when the fit is degenerate or nothing changed.
    pub fn equalize(&mut self) -> bool {
        let s = self.sampled;
        if s < 21 || self.dark.len() != s * s || self.samples.len() != s * s {
            return false;
        }
        let k = 3;
        let dark = &self.dark;
        let at = |x: isize, y: isize| -> f64 {
            if x < 0 || y < 0 || x >= s as isize || y >= s as isize {
                0.0
            } else {
                dark[y as usize * s + x as usize] as u8 as f64
            }
        };
        self.eq.clear();
        let mut ata = [[0.0f64; EQ_TERMS]; EQ_TERMS];
        let mut aty = [0.0f64; EQ_TERMS];
        for y in 0..s {
            for x in 0..s {
                let mean = self.local_mean(x, y, k);
                let v = (self.samples[y * s + x] - mean) as f64;
                let (xi, yi) = (x as isize, y as isize);
                let f = [
                    1.0,
                    at(xi, yi),
                    at(xi - 1, yi) + at(xi + 1, yi),
                    at(xi, yi - 1) + at(xi, yi + 1),
                    at(xi - 1, yi - 1) + at(xi + 1, yi + 1),
                    at(xi + 1, yi - 1) + at(xi - 1, yi + 1),
                ];
                for r in 0..EQ_TERMS {
                    for c in 0..EQ_TERMS {
                        ata[r][c] += f[r] * f[c];
                    }
                    aty[r] += f[r] * v;
                }
                self.eq.push((f, v));
            }
        }
        let Some(x) = solve(ata, aty) else {
            return false;
        };
        let mut changed = false;
        for (i, &(f, v)) in self.eq.iter().enumerate() {
            let p0 = x[0] + (2..EQ_TERMS).map(|t| x[t] * f[t]).sum::<f64>();
            let d = (v - (p0 + x[1])).abs() < (v - p0).abs();
            changed |= d != self.dark[i];
            self.dark[i] = d;
        }
        changed
    }

    /// Classifies the last sample (see [`Sampler::classify`]; inverted for light-on-dark codes) and, when
    /// at least `min_timing` of the timing modules come out right, reads the symbol.
    pub fn classify_and_read(
        &mut self,
        size: usize,
        k: usize,
        invert: bool,
        min_timing: f32,
    ) -> Option<String> {
        self.classify(k);
        if invert {
            self.invert();
        }
        if self.timing_score(size) >= min_timing {
            self.decode(size)
        } else {
            None
        }
    }

    /// Inverts the last classification (light-on-dark codes).
    pub fn invert(&mut self) {
        self.dark.iter_mut().for_each(|d| *d = !*d);
    }

    /// Sets how many ECC checks (`decode` calls) may still run for the current frame: a frame full of
    /// near-readable geometries can otherwise ask for hundreds.
    /// `taps`: module taps (`sample_modules` costs size² taps, 5x with `spread`) for the frame; once spent,
    /// `can_sample` says no and the locators stop trying geometries (a damaged or fake code's many
    /// near-fitting geometries cost tens of ms otherwise).
    pub fn set_budget(&mut self, budget: usize, taps: usize) {
        self.budget = budget;
        self.taps = taps;
    }

    /// Whether the frame's tap budget still covers a full sample of a `size` grid.
    pub fn can_sample(&self, size: usize, spread: f64) -> bool {
        self.taps >= size * size * if spread > 0.0 { 5 } else { 1 }
    }

    /// Takes one ECC check from the frame's budget; false when it is spent.
    fn charge(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    /// Reads the last classification with our symbol reader (format and version BCH, then Reed-Solomon, see
    /// `symbol`); `None` unless every check passes, or when the frame's ECC budget is spent.
    pub fn decode(&mut self, size: usize) -> Option<String> {
        if !self.charge() {
            return None;
        }
        super::symbol::read(size, &self.dark)
            .ok()
            .map(|symbol| symbol.text)
    }
}

/// Module edges along one timing pattern (row 6 for `axis` 0, column 6 for 1) of `loc`, in `loc`'s module
/// coordinates: the s - 15 light/dark boundaries from the separator at module 7 to the one at s - 8, where
/// a flat code has them at 8, 9, ..., s - 8. `None` unless exactly that many show up. Crossings count
/// only once the grey level leaves a band around the middle (noise), and sit where it crossed the middle.
fn timing_edges(plane: &Plane, loc: &Location, axis: usize, invert: bool) -> Option<Vec<f64>> {
    let sf = loc.size as f64;
    let (t0, t1) = (7.25, sf - 7.25);
    let n = ((t1 - t0) * 10.0).ceil() as usize;
    let step = (t1 - t0) / n as f64;
    let vals: Vec<f32> = (0..=n)
        .map(|i| {
            let t = t0 + i as f64 * step;
            let (mx, my) = if axis == 0 { (t, 6.5) } else { (6.5, t) };
            let (px, py) = loc.module_point(mx, my);
            let v = plane.sample(px, py);
            if invert {
                255.0 - v
            } else {
                v
            }
        })
        .collect();
    let (lo, hi) = vals
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi - lo < 16.0 {
        return None;
    }
    let (mid, band) = ((lo + hi) / 2.0, (hi - lo) * 0.15);
    // The separator at the start is light.
    let mut dark = false;
    if vals[0] < mid - band {
        return None;
    }
    let mut last_cross = None;
    let mut edges = Vec::with_capacity(loc.size);
    for i in 1..vals.len() {
        let (a, b) = (vals[i - 1], vals[i]);
        if (a < mid) != (b < mid) {
            last_cross = Some(t0 + (i as f64 - 1.0 + ((mid - a) / (b - a)) as f64) * step);
        }
        let flipped = if dark { b > mid + band } else { b < mid - band };
        if flipped {
            dark = !dark;
            edges.push(last_cross?);
        }
    }
    if dark || edges.len() + 15 != loc.size {
        return None;
    }
    // A module is 0.5-1.6 of the flat code's.
    edges
        .windows(2)
        .all(|w| (0.5..=1.6).contains(&(w[1] - w[0])))
        .then_some(edges)
}

/// Module-centre coordinates (see [`Sampler::sample_modules_at`]) that follow the code's timing patterns
/// where they stray from `loc`'s grid: a code bent round a bottle or a can keeps its finders where `loc`
/// put them, but its modules bunch up towards the edges of the curve. The column centres come from row 6's
/// edges and apply to every row (a bend along one axis bunches every row alike), the row centres from
/// column 6's; between the finder centres and the first and last edges the correction fades linearly. `None`
/// when neither timing pattern reads or neither strays by a fifth of a module.
pub fn timing_warp(plane: &Plane, loc: &Location, invert: bool) -> Option<(Vec<f64>, Vec<f64>)> {
    let s = loc.size;
    if s < 21 {
        return None;
    }
    let sf = s as f64;
    let centres = |edges: Option<Vec<f64>>| -> (Vec<f64>, f64) {
        let flat: Vec<f64> = (0..s).map(|x| x as f64 + 0.5).collect();
        let Some(e) = edges else {
            return (flat, 0.0);
        };
        let (first, last) = (e[0] - 8.0, e[e.len() - 1] - (sf - 8.0));
        let mut stray = 0.0f64;
        let c = flat
            .iter()
            .enumerate()
            .map(|(x, &c)| {
                let moved = if (8..s - 8).contains(&x) {
                    (e[x - 8] + e[x - 7]) / 2.0
                } else if c < 8.0 {
                    c + first * ((c - 3.5) / 4.5).clamp(0.0, 1.0)
                } else {
                    c + last * ((sf - 3.5 - c) / 4.5).clamp(0.0, 1.0)
                };
                stray = stray.max((moved - c).abs());
                moved
            })
            .collect();
        (c, stray)
    };
    let (us, su) = centres(timing_edges(plane, loc, 0, invert));
    let (vs, sv) = centres(timing_edges(plane, loc, 1, invert));
    (su.max(sv) >= 0.2).then_some((us, vs))
}

/// Profile samples per module in `edge_grids`. Four read more than eight (snapped seed 2: 56 vs 54 of 60;
/// 168 ad-hoc small codes: 168 vs 166), at half the cost.
const EDGE_SUB: usize = 4;

/// Module-centre coordinates (see [`Sampler::sample_modules_at`]) from the code's own module edges, found
/// across the whole code: for every edge position the grid expects between columns (rows), the grey step
/// across it summed over every row (column), and the edge put where that sum peaks within a quarter module
/// (sampled every quarter module, the peak placed between samples by a parabola).
/// A code resampled to 1-2 pixels a module without smoothing (a small screenshot, a pixel-snapped image)
/// has modules of one or two pixels, so the flat grid drifts up to half a module off them between the
/// finders, while every row shares the same column edges. The outer columns (rows) are a module wide.
///
/// Two readings of the same profiles, (us, vs) each: the first takes each window's highest sample; the
/// second only a true peak, and where a window holds none (no row crosses that edge, as inside a finder's
/// centre, so only a neighbouring edge's slope shows) it interpolates the edge's offset from the nearest
/// edges with one. The first is right where an edge sits just past the window, the second where an edge
/// has no peak. The second is left out when it is the first. Costs 16 samples a module; empty for grids
/// over `EDGE_MAX_SIZE`.
pub fn edge_grids(plane: &Plane, loc: &Location) -> Vec<(Vec<f64>, Vec<f64>)> {
    let s = loc.size;
    if !(21..=EDGE_MAX_SIZE).contains(&s) {
        return Vec::new();
    }
    let n = s * EDGE_SUB;
    let mut readings = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for axis in 0..2 {
        let at = |t: f64, c: f64| {
            let (x, y) = if axis == 0 {
                loc.module_point(t, c)
            } else {
                loc.module_point(c, t)
            };
            plane.sample(x, y)
        };
        let mut prof = vec![0f32; n + 1];
        for (k, p) in prof.iter_mut().enumerate().take(n).skip(1) {
            let t = k as f64 / EDGE_SUB as f64;
            *p = (0..s)
                .map(|j| (at(t - 0.25, j as f64 + 0.5) - at(t + 0.25, j as f64 + 0.5)).abs())
                .sum();
        }
        for (strict, reading) in readings.iter_mut().enumerate() {
            let Some(centres) = edge_centres(&prof, s, strict == 1) else {
                return Vec::new();
            };
            reading[axis] = centres;
        }
    }
    let [[u0, v0], [u1, v1]] = readings;
    if u0 == u1 && v0 == v1 {
        vec![(u0, v0)]
    } else {
        vec![(u0, v0), (u1, v1)]
    }
}

/// Module centres along one axis from `edge_grids`' profile (see there); `None` when fewer than half the
/// edges have a peak (`strict`).
fn edge_centres(prof: &[f32], s: usize, strict: bool) -> Option<Vec<f64>> {
    // Each edge's offset from where the grid puts it; `None` (strict only) where its window has no peak.
    let mut offsets: Vec<Option<f64>> = (1..s)
        .map(|b| {
            let (lo, hi) = (
                b * EDGE_SUB - EDGE_SUB / 2 + 1,
                b * EDGE_SUB + EDGE_SUB / 2 - 1,
            );
            let k = (lo..=hi).max_by(|&i, &j| prof[i].total_cmp(&prof[j]))?;
            let (l, c, r) = (prof[k - 1], prof[k], prof[k + 1]);
            if strict && (c <= l || c < r) {
                return None;
            }
            // The peak between samples: the vertex of the parabola through it and its neighbours.
            let den = l - 2.0 * c + r;
            let off = if den < 0.0 {
                (0.5 * (l - r) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            Some((k as f64 + off as f64) / EDGE_SUB as f64 - b as f64)
        })
        .collect();
    let known: Vec<(usize, f64)> = offsets
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.map(|o| (i, o)))
        .collect();
    if known.len() * 2 < s {
        return None;
    }
    // An edge without a peak: the offset interpolated between the nearest found on each side.
    for (i, o) in offsets.iter_mut().enumerate() {
        if o.is_none() {
            let next = known.iter().position(|&(j, _)| j > i);
            *o = Some(match next {
                Some(0) => known[0].1,
                None => known[known.len() - 1].1,
                Some(m) => {
                    let ((j0, o0), (j1, o1)) = (known[m - 1], known[m]);
                    o0 + (o1 - o0) * (i - j0) as f64 / (j1 - j0) as f64
                }
            });
        }
    }
    let edges: Vec<f64> = offsets
        .iter()
        .enumerate()
        .map(|(i, o)| (i + 1) as f64 + o.unwrap_or(0.0))
        .collect();
    let mut centres = Vec::with_capacity(s);
    centres.push(edges[0] - 0.5);
    centres.extend(edges.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    centres.push(edges[s - 2] + 0.5);
    Some(centres)
}

/// Largest grid `edge_grids` measures (version 10).
const EDGE_MAX_SIZE: usize = 57;

/// Terms of `Sampler::equalize`'s blur model.
const EQ_TERMS: usize = 6;

/// Solves the system `m x = r` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut m: [[f64; EQ_TERMS]; EQ_TERMS], mut r: [f64; EQ_TERMS]) -> Option<[f64; EQ_TERMS]> {
    for col in 0..EQ_TERMS {
        let piv = (col..EQ_TERMS).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        let pivot_row = m[col];
        for row in col + 1..EQ_TERMS {
            let f = m[row][col] / pivot_row[col];
            for (x, p) in m[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            r[row] -= f * r[col];
        }
    }
    let mut x = [0.0; EQ_TERMS];
    for row in (0..EQ_TERMS).rev() {
        let sum: f64 = (row + 1..EQ_TERMS).map(|c| m[row][c] * x[c]).sum();
        x[row] = (r[row] - sum) / m[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code rendered at 4 px per module with a 4-module quiet zone, and its exact location.
    fn rendered(text: &str) -> (Plane, Location) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let n = code.width();
        let colors = code.to_colors();
        let side = (n + 8) * 4;
        let mut plane = Plane::default();
        plane.resize(side, side);
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / 4) as isize - 4, (y / 4) as isize - 4);
                let dark = mx >= 0
                    && my >= 0
                    && (mx as usize) < n
                    && (my as usize) < n
                    && colors[my as usize * n + mx as usize] == qrcode::Color::Dark;
                plane.data[y * side + x] = if dark { 30 } else { 220 };
            }
        }
        let (a, b) = (16.0, 16.0 + n as f64 * 4.0);
        let s = n as f64;
        let hom = Homography::quad_to_quad(
            [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)],
            [(a, a), (b, a), (b, b), (a, b)],
        )
        .unwrap();
        (
            plane,
            Location {
                size: n,
                span: 1.0,
                origin: 0.0,
                hom,
            },
        )
    }

    #[test]
    fn an_alignment_mesh_is_its_nodes_cell_by_cell() {
        // Nodes placed by one homography: the mesh is that homography everywhere, the border cells' reach
        // beyond the outer lines included.
        let lines = vec![6.5, 24.5, 42.5];
        let h = Homography::quad_to_quad(
            [(0.0, 0.0), (49.0, 0.0), (49.0, 49.0), (0.0, 49.0)],
            [(100.0, 80.0), (400.0, 95.0), (420.0, 390.0), (90.0, 360.0)],
        )
        .unwrap();
        let nodes: Vec<(f64, f64)> = lines
            .iter()
            .flat_map(|&v| lines.iter().map(move |&u| (u, v)))
            .map(|(u, v)| h.map(u, v))
            .collect();
        let mesh = AlignmentMesh::new(lines.clone(), &nodes).unwrap();
        for (u, v) in [
            (0.5, 0.5),
            (3.5, 45.5),
            (24.5, 24.5),
            (30.2, 10.7),
            (48.5, 48.5),
        ] {
            let (a, b) = (mesh.map(u, v), h.map(u, v));
            assert!(
                (a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6,
                "{u},{v}: {a:?} {b:?}"
            );
        }
        // Bent nodes (the middle one pushed out, as a pincushion does to a code off the lens's centre):
        // each node maps where it was put, and a point between nodes stays inside its cell's quad.
        let mut bent = nodes.clone();
        bent[4] = (bent[4].0 + 9.0, bent[4].1 - 6.0);
        let mesh = AlignmentMesh::new(lines.clone(), &bent).unwrap();
        for (k, &(u, v)) in lines
            .iter()
            .flat_map(|&v| lines.iter().map(move |&u| (u, v)))
            .collect::<Vec<_>>()
            .iter()
            .enumerate()
        {
            let p = mesh.map(u, v);
            assert!(
                (p.0 - bent[k].0).abs() < 1e-6 && (p.1 - bent[k].1).abs() < 1e-6,
                "node {k}"
            );
        }
        let p = mesh.map(15.5, 15.5);
        assert!(
            inside_convex_quad(&[bent[0], bent[1], bent[4], bent[3]], p.0, p.1),
            "{p:?}"
        );
    }

    #[test]
    fn timing_warp_follows_a_bent_grid() {
        // A 25-module grid whose modules bunch and spread along both axes (`g` moves module edge x to
        // g(x) in the flat grid, keeping the finder centres 3.5 and 21.5 in place), drawn at 4 px a
        // module: only the two timing patterns (dark on even modules 8..16) on white.
        let s = 25usize;
        let sf = s as f64;
        let g = |bend: f64, x: f64| x + bend * (std::f64::consts::TAU * (x - 3.5) / 18.0).sin();
        let render = |bend: f64| {
            let g_inv = |m: f64| {
                let (mut lo, mut hi) = (-2.0, sf + 2.0);
                for _ in 0..50 {
                    let mid = (lo + hi) / 2.0;
                    if g(bend, mid) < m {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                lo
            };
            let dark = |mx: f64, my: f64| {
                let (x, y) = (g_inv(mx).floor() as i64, g_inv(my).floor() as i64);
                let timing = |i: i64| (8..=16).contains(&i) && i % 2 == 0;
                (y == 6 && timing(x)) || (x == 6 && timing(y))
            };
            Plane::supersampled(120, 120, |x, y| {
                if dark((x - 10.0) / 4.0, (y - 10.0) / 4.0) {
                    20.0
                } else {
                    230.0
                }
            })
        };
        let loc = Location {
            size: s,
            span: 1.0,
            origin: 0.0,
            hom: Homography::quad_to_quad(
                [(0.0, 0.0), (sf, 0.0), (sf, sf), (0.0, sf)],
                [(10.0, 10.0), (110.0, 10.0), (110.0, 110.0), (10.0, 110.0)],
            )
            .unwrap(),
        };
        let (us, vs) = timing_warp(&render(0.8), &loc, false).expect("both timing patterns read");
        for x in 8..s - 8 {
            let want = g(0.8, x as f64 + 0.5);
            assert!(
                (us[x] - want).abs() < 0.1,
                "column {x}: {} vs {want}",
                us[x]
            );
            assert!((vs[x] - want).abs() < 0.1, "row {x}: {} vs {want}", vs[x]);
        }
        // A flat grid needs no warp.
        assert!(timing_warp(&render(0.0), &loc, false).is_none());
    }

    #[test]
    fn tap_budget_is_spent_by_sampling() {
        let (plane, loc) = rendered("HELLO");
        let n = loc.size;
        let mut s = Sampler::default();
        s.set_budget(10, n * n * 5 + n * n);
        assert!(s.can_sample(n, 0.2));
        s.sample_modules(&plane, &loc, 0.2);
        assert!(!s.can_sample(n, 0.2), "5 taps a module were charged");
        assert!(s.can_sample(n, 0.0));
        s.sample_modules(&plane, &loc, 0.0);
        assert!(!s.can_sample(n, 0.0));
        s.set_budget(10, n * n);
        assert!(s.can_sample(n, 0.0));
    }

    #[test]
    fn square_maps_to_its_quad() {
        let q = [(10.0, 10.0), (50.0, 12.0), (55.0, 60.0), (8.0, 52.0)];
        let h = Homography::square_to_quad(q).unwrap();
        for (i, &(u, v)) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
            .iter()
            .enumerate()
        {
            let (x, y) = h.map(u, v);
            assert!(
                (x - q[i].0).abs() < 1e-6 && (y - q[i].1).abs() < 1e-6,
                "corner {i}: {x},{y}"
            );
        }
        assert!(Homography::square_to_quad([(0.0, 0.0); 4]).is_none());
        let src = [(3.5, 3.5), (29.5, 3.5), (26.5, 26.5), (3.5, 29.5)];
        let qq = Homography::quad_to_quad(src, q).unwrap();
        for (i, &(u, v)) in src.iter().enumerate() {
            let (x, y) = qq.map(u, v);
            assert!(
                (x - q[i].0).abs() < 1e-6 && (y - q[i].1).abs() < 1e-6,
                "quad corner {i}: {x},{y}"
            );
        }
        assert!(
            Homography::square_to_quad([(f64::NAN, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
                .is_none()
        );
    }
}
