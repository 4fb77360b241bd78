//! Image operations the decoder pipeline runs before locating codes: pyramid downscaling, smoothing, sharpening and
//! integral-image local-mean binarisation. All work on reusable buffers so a camera loop allocates nothing.

/// An owned 8-bit grey image.
#[derive(Debug, Default, Clone)]
pub struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

impl Plane {
    /// Sets the size and zeroes every pixel.
    #[cfg(test)]
    pub fn resize(&mut self, w: usize, h: usize) {
        self.w = w;
        self.h = h;
        self.data.clear();
        self.data.resize(w * h, 0);
    }

    /// Sets the size for a caller that writes every pixel next: the contents are left as they were (no
    /// zeroing pass over a buffer about to be overwritten; that was ~5 % of a frame with no code).
    pub fn reshape(&mut self, w: usize, h: usize) {
        self.w = w;
        self.h = h;
        self.data.resize(w * h, 0);
    }

    #[cfg(test)]
    pub fn copy_from(&mut self, w: usize, h: usize, data: &[u8]) {
        self.w = w;
        self.h = h;
        self.data.clear();
        self.data.extend_from_slice(&data[..w * h]);
    }

    /// A `w` x `h` test image: each pixel the mean of `grey` at its 4x4 sub-sample positions (anti-aliased
    /// edges, as a camera gives).
    #[cfg(test)]
    pub fn supersampled(w: usize, h: usize, grey: impl Fn(f64, f64) -> f64) -> Plane {
        let mut plane = Plane::default();
        plane.resize(w, h);
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0.0;
                for k in 0..16 {
                    let sx = x as f64 + (k % 4) as f64 / 4.0 + 0.125;
                    let sy = y as f64 + (k / 4) as f64 / 4.0 + 0.125;
                    sum += grey(sx, sy);
                }
                plane.data[y * w + x] = (sum / 16.0) as u8;
            }
        }
        plane
    }

    /// Bilinear sample at a sub-pixel position (pixel centres at integer + 0.5), clamped at the border.
    #[inline(always)]
    pub fn sample(&self, x: f64, y: f64) -> f32 {
        let (w, h) = (self.w, self.h);
        // Planes are far below 2^31 pixels a side: i32 conversions, one instruction each where usize ones
        // take several.
        let fx = (x - 0.5).clamp(0.0, (w as i32 - 1) as f64);
        let fy = (y - 0.5).clamp(0.0, (h as i32 - 1) as f64);
        // Both are in 0..=w-1 and 0..=h-1 (NaN casts to 0): the cast truncates, as a floor.
        let (xi, yi) = (fx as i32, fy as i32);
        let ax = (fx - xi as f64) as f32;
        let ay = (fy - yi as f64) as f32;
        let (x0, y0) = (xi as usize, yi as usize);
        // The 2x2 neighbourhood (one pixel or row less at the right or bottom edge) from one slice.
        let (dx, dy) = ((x0 + 1 < w) as usize, if y0 + 1 < h { w } else { 0 });
        let i = y0 * w + x0;
        let d = &self.data[i..=i + dy + dx];
        let p = |k: usize| d[k] as f32;
        let top = p(0) * (1.0 - ax) + p(dx) * ax;
        let bottom = p(dy) * (1.0 - ax) + p(dy + dx) * ax;
        top * (1.0 - ay) + bottom * ay
    }
}

/// A borrowed 8-bit grey image (the caller's frame, or a `Plane`).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub w: usize,
    pub h: usize,
    pub data: &'a [u8],
}

impl Plane {
    pub fn view(&self) -> View<'_> {
        View {
            w: self.w,
            h: self.h,
            data: &self.data,
        }
    }
}

/// Halves both dimensions with a 2x2 box average (anti-aliased: averaging also removes sensor noise).
pub fn downscale2(src: View<'_>, dst: &mut Plane) {
    let (w, h) = (src.w / 2, src.h / 2);
    dst.reshape(w, h);
    for y in 0..h {
        let r0 = &src.data[(2 * y) * src.w..(2 * y) * src.w + 2 * w];
        let r1 = &src.data[(2 * y + 1) * src.w..(2 * y + 1) * src.w + 2 * w];
        let out = &mut dst.data[y * w..(y + 1) * w];
        // Fixed-size blocks of 16 output pixels (no index arithmetic) so the loop vectorises.
        let mut o16 = out.chunks_exact_mut(16);
        let mut a32 = r0.chunks_exact(32);
        let mut b32 = r1.chunks_exact(32);
        for ((o, a), b) in (&mut o16).zip(&mut a32).zip(&mut b32) {
            let (o, a, b): (&mut [u8; 16], &[u8; 32], &[u8; 32]) = (
                o.try_into().unwrap(),
                a.try_into().unwrap(),
                b.try_into().unwrap(),
            );
            // Pixel pairs as little-endian u16 words: low byte + high byte, lane-wise (no shuffles needed).
            let mut wa = [0u16; 16];
            let mut wb = [0u16; 16];
            for i in 0..16 {
                wa[i] = u16::from_le_bytes([a[2 * i], a[2 * i + 1]]);
                wb[i] = u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
            }
            for i in 0..16 {
                let s = (wa[i] & 0xff) + (wa[i] >> 8) + (wb[i] & 0xff) + (wb[i] >> 8);
                o[i] = ((s + 2) >> 2) as u8;
            }
        }
        let (o, a, b) = (o16.into_remainder(), a32.remainder(), b32.remainder());
        for (i, o) in o.iter_mut().enumerate() {
            let s = a[2 * i] as u16 + a[2 * i + 1] as u16 + b[2 * i] as u16 + b[2 * i + 1] as u16;
            *o = ((s + 2) >> 2) as u8;
        }
    }
}

/// Builds the summed-area table of `src` into `sat` ((w+1) x (h+1), first row/column zero).
pub fn integral(src: &Plane, sat: &mut Vec<u32>) {
    let (w, h) = (src.w, src.h);
    let stride = w + 1;
    // Every element but the first row and column is written below; those two are zeroed here (no zeroing
    // pass over the whole table).
    sat.resize(stride * (h + 1), 0);
    sat[..stride].fill(0);
    for y in 0..h {
        let mut row = 0u32;
        let src_row = &src.data[y * w..(y + 1) * w];
        let (prev, cur) = sat.split_at_mut((y + 1) * stride);
        let prev = &prev[y * stride + 1..(y + 1) * stride];
        let (first, cur) = cur[..stride].split_at_mut(1);
        first[0] = 0;
        for ((c, &p), &v) in cur.iter_mut().zip(prev).zip(src_row) {
            row += v as u32;
            *c = p + row;
        }
    }
}

/// Local-mean binarisation: a pixel is "dark" when it is below the mean of its (2r+1)^2 window by more than
/// `offset` grey levels. `invert` selects light-on-dark codes. Output: 1 = dark, 0 = light.
///
/// The offset keeps flat noisy areas (background, paper) from turning into speckle, which would both hide
/// finder patterns and make the finder scan slow.
///
/// `r` is at most 40 (every caller's radius is clamped there): window sums then stay below 2^24, which the
/// f32 comparisons below need to be exact.
pub fn binarize_mean(
    src: &Plane,
    sat: &[u32],
    r: usize,
    offset: i32,
    invert: bool,
    out: &mut Vec<u8>,
) {
    debug_assert!(r <= 40, "binarisation radius {r} over 40");
    let (w, h) = (src.w, src.h);
    let stride = w + 1;
    // Every pixel is written below.
    out.resize(w * h, 0);
    // Columns whose window is not clipped by the left/right border: x - r >= 0 and x + r + 1 <= w.
    let (inner0, inner1) = (r.min(w), w.saturating_sub(r).max(r.min(w)));
    for y in 0..h {
        let y0 = y.saturating_sub(r);
        let y1 = (y + r + 1).min(h);
        let rows = (y1 - y0) as i32;
        let top = &sat[y0 * stride..(y0 + 1) * stride];
        let bot = &sat[y1 * stride..(y1 + 1) * stride];
        let src_row = &src.data[y * w..(y + 1) * w];
        let out_row = &mut out[y * w..(y + 1) * w];
        // Columns whose window the left or right border clips: the window of column x is x0..x1. Window
        // sums fit i32 (at most 81*81*255 for r <= 40) and are compared in "sum" space (no division per
        // pixel); one loop per polarity.
        let window = |x0: usize, x1: usize| {
            (bot[x1]
                .wrapping_sub(top[x1])
                .wrapping_sub(bot[x0])
                .wrapping_add(top[x0])) as i32
        };
        let clipped = (0..inner0).chain(inner1..w).map(|x| {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let n = rows * (x1 - x0) as i32;
            (x, src_row[x] as i32 * n, window(x0, x1), offset * n)
        });
        if invert {
            for (x, v, sum, margin) in clipped {
                out_row[x] = (v > sum + margin) as u8;
            }
        } else {
            for (x, v, sum, margin) in clipped {
                out_row[x] = (v + margin < sum) as u8;
            }
        }
        if inner1 > inner0 {
            // Unclipped columns: fixed window width, so the same arithmetic over shifted slices.
            let n = rows * (2 * r + 1) as i32;
            let margin = offset * n;
            let len = inner1 - inner0;
            let (t0, t1) = (&top[..len], &top[2 * r + 1..2 * r + 1 + len]);
            let (b0, b1) = (&bot[..len], &bot[2 * r + 1..2 * r + 1 + len]);
            let px = &src_row[inner0..inner1];
            let o = &mut out_row[inner0..inner1];
            // In f32, which SSE2 multiplies four at a time (it has no 32-bit integer multiply): every value
            // here is an integer below 2^24, so the products and sums are exact.
            let (nf, mf) = (n as f32, margin as f32);
            let sums = b1
                .iter()
                .zip(t1)
                .zip(b0)
                .zip(t0)
                .map(|(((&b1, &t1), &b0), &t0)| {
                    b1.wrapping_sub(t1).wrapping_sub(b0).wrapping_add(t0) as i32 as f32
                });
            if invert {
                for ((o, &p), sum) in o.iter_mut().zip(px).zip(sums) {
                    *o = (p as f32 * nf > sum + mf) as u8;
                }
            } else {
                for ((o, &p), sum) in o.iter_mut().zip(px).zip(sums) {
                    *o = (p as f32 * nf + mf < sum) as u8;
                }
            }
        }
    }
}

/// 3x3 box blur (separable), for sensor noise and JPEG ringing on codes with modules >= 3 px.
pub fn box3(src: &Plane, tmp: &mut Vec<u16>, dst: &mut Plane) {
    let (w, h) = (src.w, src.h);
    dst.reshape(w, h);
    if w < 3 || h < 3 {
        dst.data.copy_from_slice(&src.data);
        return;
    }
    // Every element is written below.
    tmp.resize(w * h, 0);
    for y in 0..h {
        let s = &src.data[y * w..(y + 1) * w];
        let t = &mut tmp[y * w..(y + 1) * w];
        t[0] = s[0] as u16 * 2 + s[1] as u16;
        for x in 1..w - 1 {
            t[x] = s[x - 1] as u16 + s[x] as u16 + s[x + 1] as u16;
        }
        t[w - 1] = s[w - 2] as u16 + s[w - 1] as u16 * 2;
    }
    for y in 0..h {
        let ya = y.saturating_sub(1);
        let yb = (y + 1).min(h - 1);
        for x in 0..w {
            let s = tmp[ya * w + x] as u32 + tmp[y * w + x] as u32 + tmp[yb * w + x] as u32;
            dst.data[y * w + x] = ((s + 4) / 9) as u8;
        }
    }
}

/// Unsharp mask: dst = src + amount * (src - box3(src)). Restores module edges softened by defocus/motion blur.
pub fn unsharp(src: &Plane, blurred: &Plane, amount: f32, dst: &mut Plane) {
    dst.reshape(src.w, src.h);
    let a = (amount * 256.0) as i32;
    for ((d, &s), &b) in dst.data.iter_mut().zip(&src.data).zip(&blurred.data) {
        let v = s as i32 + ((a * (s as i32 - b as i32)) >> 8);
        *d = v.clamp(0, 255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffers the filters write into, kept from frame to frame.
    #[derive(Default, PartialEq, Debug)]
    struct Buffers {
        sat: Vec<u32>,
        bits: Vec<u8>,
        tmp: Vec<u16>,
        blurred: Plane,
        sharp: Plane,
    }

    impl PartialEq for Plane {
        fn eq(&self, other: &Self) -> bool {
            (self.w, self.h, &self.data) == (other.w, other.h, &other.data)
        }
    }

    fn filter_all(p: &Plane, b: &mut Buffers) {
        integral(p, &mut b.sat);
        binarize_mean(p, &b.sat, 4, 3, false, &mut b.bits);
        box3(p, &mut b.tmp, &mut b.blurred);
        unsharp(p, &b.blurred, 1.5, &mut b.sharp);
    }

    #[test]
    fn reused_buffers_give_what_fresh_ones_give() {
        // The filters write into buffers kept from earlier (larger) frames without zeroing them first:
        // stale contents must never show through.
        let mut p = Plane::default();
        p.resize(37, 23);
        for (i, v) in p.data.iter_mut().enumerate() {
            *v = (i * 73 % 251) as u8;
        }
        let mut want = Buffers::default();
        filter_all(&p, &mut want);
        let mut reused = Buffers {
            sat: vec![u32::MAX; 5000],
            bits: vec![7; 5000],
            tmp: vec![9; 5000],
            blurred: Plane {
                w: 50,
                h: 100,
                data: vec![200; 5000],
            },
            sharp: Plane {
                w: 100,
                h: 50,
                data: vec![100; 5000],
            },
        };
        filter_all(&p, &mut reused);
        assert_eq!(reused, want);
    }

    #[test]
    fn integral_and_binarize_find_a_dark_square() {
        let mut p = Plane::default();
        p.resize(20, 20);
        p.data.fill(200);
        for y in 5..10 {
            for x in 5..10 {
                p.data[y * 20 + x] = 20;
            }
        }
        let mut sat = Vec::new();
        integral(&p, &mut sat);
        assert_eq!(*sat.last().unwrap(), 200 * 375 + 20 * 25);
        let mut bits = Vec::new();
        binarize_mean(&p, &sat, 6, 4, false, &mut bits);
        assert_eq!(bits[7 * 20 + 7], 1);
        assert_eq!(bits[0], 0);
        assert_eq!(bits.iter().map(|&b| b as usize).sum::<usize>(), 25);
        binarize_mean(&p, &sat, 6, 4, true, &mut bits);
        assert_eq!(bits[7 * 20 + 7], 0);
    }

    #[test]
    fn binarize_matches_the_direct_window_mean() {
        // Pseudo-random plane; every radius from tiny to wider than the plane, both polarities.
        let (w, h) = (37, 23);
        let mut p = Plane::default();
        p.resize(w, h);
        let mut x = 12345u32;
        for v in p.data.iter_mut() {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            *v = (x >> 16) as u8;
        }
        let mut sat = Vec::new();
        integral(&p, &mut sat);
        let mut bits = Vec::new();
        for r in [0, 1, 3, 10, 18, 19, 40] {
            for invert in [false, true] {
                binarize_mean(&p, &sat, r, 4, invert, &mut bits);
                for y in 0..h {
                    for x in 0..w {
                        let (mut sum, mut n) = (0i32, 0i32);
                        for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                            for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                                sum += p.data[yy * w + xx] as i32;
                                n += 1;
                            }
                        }
                        let v = p.data[y * w + x] as i32 * n;
                        let dark = if invert {
                            v > sum + 4 * n
                        } else {
                            v + 4 * n < sum
                        };
                        assert_eq!(
                            bits[y * w + x],
                            dark as u8,
                            "r={r} invert={invert} at {x},{y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn downscale_matches_the_2x2_mean_on_wide_rows() {
        for (w, h) in [(67usize, 5usize), (64, 4), (33, 3)] {
            let mut p = Plane::default();
            p.resize(w, h);
            for (i, v) in p.data.iter_mut().enumerate() {
                *v = (i * 37 % 251) as u8;
            }
            let mut d = Plane::default();
            downscale2(p.view(), &mut d);
            assert_eq!((d.w, d.h), (w / 2, h / 2));
            for y in 0..h / 2 {
                for x in 0..w / 2 {
                    let at = |xx: usize, yy: usize| p.data[yy * w + xx] as u32;
                    let s = at(2 * x, 2 * y)
                        + at(2 * x + 1, 2 * y)
                        + at(2 * x, 2 * y + 1)
                        + at(2 * x + 1, 2 * y + 1);
                    assert_eq!(
                        d.data[y * (w / 2) + x] as u32,
                        (s + 2) >> 2,
                        "{w}x{h} at {x},{y}"
                    );
                }
            }
        }
    }

    #[test]
    fn downscale_averages() {
        let mut p = Plane::default();
        p.copy_from(3, 2, &[0, 100, 7, 200, 100, 7]);
        let mut d = Plane::default();
        downscale2(p.view(), &mut d);
        assert_eq!((d.w, d.h), (1, 1));
        assert_eq!(d.data, vec![100]);
    }
}
