//! Our own QR symbol reader, written from ISO/IEC 18004: a sampled module grid in, verified text out.
//!
//! Cheap checks first, so a wrong geometry costs microseconds: the format information (BCH(15,5), both
//! copies), then the version information (BCH(18,6), versions 7+) must agree with the grid size, and only
//! then are the codewords read, unmasked, de-interleaved and Reed-Solomon corrected (table-driven GF(256):
//! syndromes by Horner with log/antilog tables, Berlekamp-Massey, Chien search, Forney). Every block must
//! correct to zero syndromes within the standard's error bound (which, for the smallest symbols, keeps some
//! check codewords for misdecode protection), and the data bit stream must parse exactly; otherwise the
//! grid is rejected. Nothing is guessed.
//!
//! Text: numeric, alphanumeric, byte, Kanji (Shift JIS) and Hanzi (GB 2312) segments, with ECI (UTF-8,
//! ISO 8859-x, Shift JIS, GB 18030/GBK, Big5, EUC-KR, Windows code pages, UTF-16BE). Byte segments without
//! ECI are read as UTF-8 when valid, else Shift JIS when that decodes cleanly, else ISO 8859-1.
//!
//! Mirrored symbols (printed or photographed through glass) sample as the transpose of the true grid; when
//! the grid as sampled has no valid format information, its transpose is tried.

use std::sync::OnceLock;

/// Why a grid was not read. The variants are ordered by how much work was paid before the rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reject {
    /// Not a QR symbol size (21..=177, 4k+1).
    Size,
    /// Neither format-information copy is within 3 bits of a valid codeword (in either orientation).
    Format,
    /// The version information names another version than the grid size.
    Version,
    /// A block has more errors than the standard lets us correct.
    Ecc,
    /// The corrected data bit stream is malformed, or its text cannot be decoded.
    Data,
}

/// Error-correction level, as in the format information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcLevel {
    L,
    M,
    Q,
    H,
}

impl EcLevel {
    fn index(self) -> usize {
        match self {
            EcLevel::L => 0,
            EcLevel::M => 1,
            EcLevel::Q => 2,
            EcLevel::H => 3,
        }
    }
}

/// A read symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    pub text: String,
    pub version: usize,
    pub ec: EcLevel,
    /// The symbol was read from the transposed grid (a mirror image).
    pub mirrored: bool,
    /// Codewords corrected by Reed-Solomon, over all blocks.
    pub corrected: usize,
}

/// Reads a grid of `size` x `size` modules, `dark[y * size + x]`.
pub fn read(size: usize, dark: &[bool]) -> Result<Symbol, Reject> {
    if !(21..=177).contains(&size) || size % 4 != 1 || dark.len() < size * size {
        return Err(Reject::Size);
    }
    let grid = Grid {
        size,
        dark,
        transposed: false,
    };
    let first = match read_oriented(&grid) {
        Ok(sym) => return Ok(sym),
        Err(e) => e,
    };
    // A mirror image's format bits read bit-reversed, which can land near another valid codeword: retry
    // transposed after any rejection (its own format check makes that cheap when it is not a mirror).
    match read_oriented(&Grid {
        transposed: true,
        ..grid
    }) {
        Ok(sym) => Ok(sym),
        Err(e) => Err(first.max(e)),
    }
}

#[derive(Clone, Copy)]
struct Grid<'a> {
    size: usize,
    dark: &'a [bool],
    transposed: bool,
}

impl Grid<'_> {
    #[inline]
    fn at(&self, row: usize, col: usize) -> bool {
        if self.transposed {
            self.dark[col * self.size + row]
        } else {
            self.dark[row * self.size + col]
        }
    }
}

fn read_oriented(g: &Grid<'_>) -> Result<Symbol, Reject> {
    let size = g.size;
    let version = (size - 17) / 4;
    let (ec, mask) = read_format(g).ok_or(Reject::Format)?;
    if version >= 7 {
        // Both copies unreadable: trust the size (Reed-Solomon still decides). A readable copy that names
        // another version means the grid was sampled at the wrong size.
        if let Some(v) = read_version(g) {
            if v != version {
                return Err(Reject::Version);
            }
        }
    }
    let layout = layout(version);
    let codewords = read_codewords(g, layout, mask);
    let (data, corrected) = correct(&codewords, version, ec)?;
    let text = parse_segments(&data, version).ok_or(Reject::Data)?;
    Ok(Symbol {
        text,
        version,
        ec,
        mirrored: g.transposed,
        corrected,
    })
}

// ---- format and version information ------------------------------------------------------------------

const FORMAT_MASK: u32 = 0x5412;

/// BCH(15,5) codeword of the 5 format data bits, masked as it is printed.
const fn format_codeword(data: u32) -> u32 {
    let mut rem = data;
    let mut i = 0;
    while i < 10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
        i += 1;
    }
    ((data << 10) | (rem & 0x3ff)) ^ FORMAT_MASK
}

/// BCH(18,6) codeword of a version number.
const fn version_codeword(version: u32) -> u32 {
    let mut rem = version;
    let mut i = 0;
    while i < 12 {
        rem = (rem << 1) ^ ((rem >> 11) * 0x1f25);
        i += 1;
    }
    (version << 12) | (rem & 0xfff)
}

/// (ec level, mask) from the two format copies: the valid codeword nearest to both. Accepted when the two
/// copies together are at most 6 bits off, or one of them at most 1 (a copy hidden by glare or a smudge):
/// random modules pass this about one time in twenty, so a wrong geometry rarely reaches Reed-Solomon.
fn read_format(g: &Grid<'_>) -> Option<(EcLevel, u8)> {
    let s = g.size;
    let (mut a, mut b) = (0u32, 0u32);
    for i in 0..15 {
        // Copy 1, around the top-left finder.
        let (r, c) = match i {
            0..=5 => (i, 8),
            6 => (7, 8),
            7 => (8, 8),
            8 => (8, 7),
            _ => (8, 14 - i),
        };
        a |= (g.at(r, c) as u32) << i;
        // Copy 2, split between the top-right and bottom-left finders.
        let (r, c) = if i < 8 {
            (8, s - 1 - i)
        } else {
            (s - 15 + i, 8)
        };
        b |= (g.at(r, c) as u32) << i;
    }
    let mut best: Option<(u32, u32)> = None;
    for data in 0..32 {
        let cw = format_codeword(data);
        let (da, db) = ((cw ^ a).count_ones(), (cw ^ b).count_ones());
        if da + db <= 6 || da.min(db) <= 1 {
            let score = da.min(db) * 2 + da + db;
            if best.is_none_or(|(s, _)| score < s) {
                best = Some((score, data));
            }
        }
    }
    let data = best?.1;
    let ec = match data >> 3 {
        0b01 => EcLevel::L,
        0b00 => EcLevel::M,
        0b11 => EcLevel::Q,
        _ => EcLevel::H,
    };
    Some((ec, (data & 7) as u8))
}

/// The version (7..=40) whose BCH(18,6) version information is at most 3 bits from `bits` (bit i = module i
/// of a version block, as ISO/IEC 18004 numbers them).
pub fn version_from_bits(bits: u32) -> Option<usize> {
    (7..=40u32)
        .map(|v| ((version_codeword(v) ^ bits).count_ones(), v as usize))
        .min()
        .filter(|&(d, _)| d <= 3)
        .map(|(_, v)| v)
}

/// The version named by either version-information block, at most 3 bits off; `None` if neither reads.
fn read_version(g: &Grid<'_>) -> Option<usize> {
    let s = g.size;
    let (mut a, mut b) = (0u32, 0u32);
    for i in 0..18 {
        let (m, n) = (i / 3, s - 11 + i % 3);
        a |= (g.at(m, n) as u32) << i; // top right: 6 rows x 3 columns
        b |= (g.at(n, m) as u32) << i; // bottom left: 3 rows x 6 columns
    }
    let mut best = (4u32, 0usize);
    for v in 7..=40u32 {
        let cw = version_codeword(v);
        let d = (cw ^ a).count_ones().min((cw ^ b).count_ones());
        if d < best.0 {
            best = (d, v as usize);
        }
    }
    (best.0 <= 3).then_some(best.1)
}

// ---- function patterns and codeword placement ----------------------------------------------------------

/// Per version: which modules are function patterns, and how many data+EC codewords the symbol holds.
struct Layout {
    size: usize,
    function: Vec<bool>,
    codewords: usize,
}

/// Alignment-pattern centre coordinates (both axes) for `version`: 6, then evenly spaced up to size - 7.
fn alignment_centres(version: usize) -> Vec<usize> {
    if version < 2 {
        return Vec::new();
    }
    let count = version / 7 + 2;
    let last = 4 * version + 10;
    // Spacing: even, as equal as possible (version 32 is the one exception in the standard's table).
    let step = if version == 32 {
        26
    } else {
        (4 * version + 2 * count + 1) / (2 * count - 2) * 2
    };
    let mut out = vec![6];
    for i in (0..count - 1).rev() {
        out.push(last - i * step);
    }
    out
}

fn layout(version: usize) -> &'static Layout {
    static LAYOUTS: OnceLock<Vec<Layout>> = OnceLock::new();
    let all = LAYOUTS.get_or_init(|| (1..=40).map(build_layout).collect());
    &all[version - 1]
}

fn build_layout(version: usize) -> Layout {
    let s = 17 + 4 * version;
    let mut f = vec![false; s * s];
    let mut mark = |r0: usize, c0: usize, h: usize, w: usize| {
        for r in r0..r0 + h {
            for c in c0..c0 + w {
                f[r * s + c] = true;
            }
        }
    };
    // Finders with separators and format information.
    mark(0, 0, 9, 9);
    mark(0, s - 8, 9, 8);
    mark(s - 8, 0, 8, 9);
    // Timing patterns.
    mark(6, 0, 1, s);
    mark(0, 6, s, 1);
    let centres = alignment_centres(version);
    let last = centres.len().saturating_sub(1);
    for (i, &r) in centres.iter().enumerate() {
        for (j, &c) in centres.iter().enumerate() {
            // The three corners held by finders carry no alignment pattern.
            if (i == 0 || i == last) && (j == 0 || j == last) && !(i == last && j == last) {
                continue;
            }
            mark(r - 2, c - 2, 5, 5);
        }
    }
    if version >= 7 {
        mark(0, s - 11, 6, 3);
        mark(s - 11, 0, 3, 6);
    }
    let free = f.iter().filter(|&&x| !x).count();
    Layout {
        size: s,
        function: f,
        codewords: free / 8,
    }
}

#[inline]
fn masked(mask: u8, r: usize, c: usize) -> bool {
    match mask {
        0 => (r + c).is_multiple_of(2),
        1 => r.is_multiple_of(2),
        2 => c.is_multiple_of(3),
        3 => (r + c).is_multiple_of(3),
        4 => (r / 2 + c / 3).is_multiple_of(2),
        5 => (r * c) % 2 + (r * c) % 3 == 0,
        6 => ((r * c) % 2 + (r * c) % 3).is_multiple_of(2),
        _ => ((r + c) % 2 + (r * c) % 3).is_multiple_of(2),
    }
}

/// Reads the codewords in placement order: two-column strips from the right, alternately upwards and
/// downwards, skipping the vertical timing column and every function module; unmasked, MSB first.
fn read_codewords(g: &Grid<'_>, layout: &Layout, mask: u8) -> Vec<u8> {
    let s = layout.size;
    let mut out = Vec::with_capacity(layout.codewords);
    let (mut byte, mut nbits) = (0u8, 0);
    let mut right = s as isize - 1;
    let mut upward = true;
    while right > 0 {
        if right == 6 {
            right = 5;
        }
        for k in 0..s {
            let r = if upward { s - 1 - k } else { k };
            for c in [right as usize, right as usize - 1] {
                if layout.function[r * s + c] {
                    continue;
                }
                byte = (byte << 1) | (g.at(r, c) ^ masked(mask, r, c)) as u8;
                nbits += 1;
                if nbits == 8 {
                    if out.len() == layout.codewords {
                        return out;
                    }
                    out.push(byte);
                    nbits = 0;
                }
            }
        }
        upward = !upward;
        right -= 2;
    }
    out
}

// ---- Reed-Solomon --------------------------------------------------------------------------------------

/// EC codewords per block, by level (L, M, Q, H) and version (ISO/IEC 18004 table 9).
const EC_PER_BLOCK: [[u8; 41]; 4] = [
    [
        0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28,
        30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
    [
        0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28,
        28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    ],
    [
        0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30,
        30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
    [
        0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24,
        30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
];

/// Number of RS blocks, by level and version (ISO/IEC 18004 table 9).
const BLOCKS: [[u8; 41]; 4] = [
    [
        0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13,
        14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25,
    ],
    [
        0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21,
        23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
    ],
    [
        0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29,
        34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68,
    ],
    [
        0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32,
        35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81,
    ],
];

/// Check codewords the standard keeps for misdecode protection (not used to correct) in the smallest
/// symbols: 1-L 3, 1-M 2, 1-Q 1, 1-H 1, 2-L 2, 3-L 1 (ISO/IEC 18004 table 9, "p").
fn protection(version: usize, ec: EcLevel) -> usize {
    match (version, ec) {
        (1, EcLevel::L) => 3,
        (1, EcLevel::M) | (2, EcLevel::L) => 2,
        (1, _) | (3, EcLevel::L) => 1,
        _ => 0,
    }
}

struct Gf {
    exp: [u8; 512],
    log: [u8; 256],
}

const fn gf_tables() -> Gf {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u32 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11d;
        }
        i += 1;
    }
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    Gf { exp, log }
}

/// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1; generator alpha = 2.
static GF: Gf = gf_tables();

#[inline]
fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        GF.exp[GF.log[a as usize] as usize + GF.log[b as usize] as usize]
    }
}

#[inline]
fn div(a: u8, b: u8) -> u8 {
    debug_assert!(b != 0);
    if a == 0 {
        0
    } else {
        GF.exp[GF.log[a as usize] as usize + 255 - GF.log[b as usize] as usize]
    }
}

/// alpha^e for any e >= 0.
#[inline]
fn pow_a(e: usize) -> u8 {
    GF.exp[e % 255]
}

/// Evaluates a polynomial (coefficient i of x^i at index i) at x.
fn eval(poly: &[u8], x: u8) -> u8 {
    poly.iter().rev().fold(0, |acc, &c| mul(acc, x) ^ c)
}

/// Syndromes S_j = r(alpha^j), j = 0..n_ec, by Horner over the block (first codeword = highest power).
/// Returns true when all are zero.
fn syndromes(block: &[u8], out: &mut [u8]) -> bool {
    let mut clean = true;
    for (j, s) in out.iter_mut().enumerate() {
        let mut acc = 0u8;
        if j == 0 {
            for &c in block {
                acc ^= c;
            }
        } else {
            for &c in block {
                acc = if acc == 0 {
                    c
                } else {
                    GF.exp[GF.log[acc as usize] as usize + j] ^ c
                };
            }
        }
        *s = acc;
        clean &= acc == 0;
    }
    clean
}

/// Corrects one block in place (data then EC codewords) with at most `max_errors` errors. Returns the
/// number of corrected codewords, or `None` when the block is beyond that.
fn correct_block(block: &mut [u8], n_ec: usize, max_errors: usize) -> Option<usize> {
    let n = block.len();
    let mut synd = [0u8; 30];
    let synd = &mut synd[..n_ec];
    if syndromes(block, synd) {
        return Some(0);
    }
    if max_errors == 0 {
        return None;
    }
    // Berlekamp-Massey: error locator lambda(x) = prod (1 - X_k x).
    let mut lambda = [0u8; 31];
    let mut prev = [0u8; 31];
    lambda[0] = 1;
    prev[0] = 1;
    let (mut l, mut m, mut b) = (0usize, 1usize, 1u8);
    for k in 0..n_ec {
        let mut d = synd[k];
        for i in 1..=l {
            d ^= mul(lambda[i], synd[k - i]);
        }
        if d == 0 {
            m += 1;
            continue;
        }
        let coef = div(d, b);
        let saved = lambda;
        for i in 0..31 - m {
            lambda[i + m] ^= mul(coef, prev[i]);
        }
        if 2 * l <= k {
            l = k + 1 - l;
            prev = saved;
            b = d;
            m = 1;
        } else {
            m += 1;
        }
    }
    if l == 0 || l > max_errors {
        return None;
    }
    let lambda = &lambda[..=l];
    // Chien search over the block's positions: index i carries power e = n - 1 - i.
    let mut positions = [0usize; 16];
    let mut found = 0;
    for i in 0..n {
        let e = n - 1 - i;
        // lambda(X^-1) with X = alpha^e.
        if eval(lambda, pow_a(255 - e % 255)) == 0 {
            if found == positions.len() {
                return None;
            }
            positions[found] = i;
            found += 1;
        }
    }
    if found != l {
        return None;
    }
    // Forney (first consecutive root alpha^0): e_k = X_k * omega(X_k^-1) / lambda'(X_k^-1),
    // omega = S * lambda mod x^n_ec.
    let mut omega = [0u8; 30];
    for i in 0..n_ec {
        let mut acc = 0u8;
        for j in 0..=i.min(l) {
            acc ^= mul(lambda[j], synd[i - j]);
        }
        omega[i] = acc;
    }
    let omega = &omega[..n_ec];
    for &i in &positions[..found] {
        let e = n - 1 - i;
        let x = pow_a(e);
        let x_inv = pow_a(255 - e % 255);
        // Formal derivative: only odd powers survive in characteristic 2.
        let mut deriv = 0u8;
        let mut xp = 1u8; // x_inv^(j-1) for odd j
        let x_inv2 = mul(x_inv, x_inv);
        for j in (1..=l).step_by(2) {
            deriv ^= mul(lambda[j], xp);
            xp = mul(xp, x_inv2);
        }
        if deriv == 0 {
            return None;
        }
        let magnitude = mul(x, div(eval(omega, x_inv), deriv));
        block[i] ^= magnitude;
    }
    // The corrected block must be a codeword.
    if !syndromes(block, synd) {
        return None;
    }
    Some(found)
}

/// De-interleaves and corrects all blocks; returns the data codewords and the number corrected.
fn correct(codewords: &[u8], version: usize, ec: EcLevel) -> Result<(Vec<u8>, usize), Reject> {
    let total = layout(version).codewords;
    if codewords.len() != total {
        return Err(Reject::Ecc);
    }
    let n_ec = EC_PER_BLOCK[ec.index()][version] as usize;
    let blocks = BLOCKS[ec.index()][version] as usize;
    let short_len = total / blocks; // data + EC of a short block
    let long_count = total % blocks;
    let short_count = blocks - long_count;
    let short_data = short_len - n_ec;
    let max_errors = (n_ec - protection(version, ec)) / 2;
    // Block b's data codewords are interleaved first (long blocks have one more, at the end), then EC.
    let mut bufs: Vec<Vec<u8>> = (0..blocks)
        .map(|b| Vec::with_capacity(short_len + (b >= short_count) as usize))
        .collect();
    let mut it = codewords.iter().copied();
    for i in 0..=short_data {
        for (b, buf) in bufs.iter_mut().enumerate() {
            if i < short_data || b >= short_count {
                buf.push(it.next().ok_or(Reject::Ecc)?);
            }
        }
    }
    for _ in 0..n_ec {
        for buf in bufs.iter_mut() {
            buf.push(it.next().ok_or(Reject::Ecc)?);
        }
    }
    let mut data = Vec::with_capacity(total - blocks * n_ec);
    let mut corrected = 0;
    for buf in bufs.iter_mut() {
        corrected += correct_block(buf, n_ec, max_errors).ok_or(Reject::Ecc)?;
        data.extend_from_slice(&buf[..buf.len() - n_ec]);
    }
    Ok((data, corrected))
}

// ---- data segments ---------------------------------------------------------------------------------------

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn left(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    fn take(&mut self, n: usize) -> Option<u32> {
        if n > self.left() {
            return None;
        }
        let mut v = 0u32;
        for _ in 0..n {
            let bit = (self.data[self.pos / 8] >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | bit as u32;
            self.pos += 1;
        }
        Some(v)
    }
}

/// Character-count field widths (numeric, alphanumeric, byte, Kanji/Hanzi) for the version's size class.
fn count_bits(version: usize) -> [usize; 4] {
    match version {
        1..=9 => [10, 9, 8, 8],
        10..=26 => [12, 11, 16, 10],
        _ => [14, 13, 16, 12],
    }
}

const ALNUM: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Character sets a byte segment can be in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Charset {
    /// No ECI seen: UTF-8 if valid, else Shift JIS if clean, else ISO 8859-1.
    Guess,
    Latin1,
    Utf8,
    Utf16Be,
    Other(&'static encoding_rs::Encoding),
}

/// The character set an ECI assignment number selects (AIM ECI). `None`: one we cannot decode faithfully.
fn eci_charset(eci: u32) -> Option<Charset> {
    use encoding_rs as e;
    Some(match eci {
        1 | 3 => Charset::Latin1,
        4 => Charset::Other(e::ISO_8859_2),
        5 => Charset::Other(e::ISO_8859_3),
        6 => Charset::Other(e::ISO_8859_4),
        7 => Charset::Other(e::ISO_8859_5),
        8 => Charset::Other(e::ISO_8859_6),
        9 => Charset::Other(e::ISO_8859_7),
        10 => Charset::Other(e::ISO_8859_8),
        12 => Charset::Other(e::ISO_8859_10),
        15 => Charset::Other(e::ISO_8859_13),
        16 => Charset::Other(e::ISO_8859_14),
        17 => Charset::Other(e::ISO_8859_15),
        18 => Charset::Other(e::ISO_8859_16),
        20 => Charset::Other(e::SHIFT_JIS),
        21 => Charset::Other(e::WINDOWS_1250),
        22 => Charset::Other(e::WINDOWS_1251),
        23 => Charset::Other(e::WINDOWS_1252),
        24 => Charset::Other(e::WINDOWS_1256),
        25 => Charset::Utf16Be,
        26 => Charset::Utf8,
        27 | 170 => Charset::Latin1, // US-ASCII (checked below: 7-bit only)
        28 => Charset::Other(e::BIG5),
        29 | 32 => Charset::Other(e::GB18030), // GB 2312 and GB 18030 (a superset)
        30 => Charset::Other(e::EUC_KR),
        _ => return None,
    })
}

/// Decodes bytes in `cs`; `None` when they are not valid there (no replacement characters, ever).
fn decode_bytes(bytes: &[u8], cs: Charset, eci: Option<u32>) -> Option<String> {
    match cs {
        Charset::Guess => {
            if let Ok(s) = std::str::from_utf8(bytes) {
                return Some(s.to_owned());
            }
            if let Some(s) =
                encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            {
                return Some(s.into_owned());
            }
            Some(bytes.iter().map(|&b| b as char).collect())
        }
        Charset::Latin1 => {
            if matches!(eci, Some(27 | 170)) && !bytes.is_ascii() {
                return None;
            }
            Some(bytes.iter().map(|&b| b as char).collect())
        }
        Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Charset::Utf16Be => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Charset::Other(enc) => enc
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| s.into_owned()),
    }
}

/// Parses the data codewords into text; `None` for a malformed stream.
fn parse_segments(data: &[u8], version: usize) -> Option<String> {
    let mut bits = Bits { data, pos: 0 };
    let widths = count_bits(version);
    let mut text = String::new();
    let mut charset = Charset::Guess;
    let mut eci = None;
    // Byte segments are collected until the character set changes, so a multi-byte character split over
    // two segments still decodes.
    let mut pending: Vec<u8> = Vec::new();
    let flush = |pending: &mut Vec<u8>, text: &mut String, cs: Charset, eci: Option<u32>| {
        if pending.is_empty() {
            return Some(());
        }
        text.push_str(&decode_bytes(pending, cs, eci)?);
        pending.clear();
        Some(())
    };
    loop {
        if bits.left() < 4 {
            break;
        }
        let mode = bits.take(4)?;
        match mode {
            0 => break, // terminator
            1 => {
                flush(&mut pending, &mut text, charset, eci)?;
                let mut n = bits.take(widths[0])? as usize;
                while n >= 3 {
                    let v = bits.take(10)?;
                    if v > 999 {
                        return None;
                    }
                    text.push_str(&format!("{v:03}"));
                    n -= 3;
                }
                if n == 2 {
                    let v = bits.take(7)?;
                    if v > 99 {
                        return None;
                    }
                    text.push_str(&format!("{v:02}"));
                } else if n == 1 {
                    let v = bits.take(4)?;
                    if v > 9 {
                        return None;
                    }
                    text.push_str(&format!("{v}"));
                }
            }
            2 => {
                flush(&mut pending, &mut text, charset, eci)?;
                let mut n = bits.take(widths[1])? as usize;
                while n >= 2 {
                    let v = bits.take(11)? as usize;
                    if v >= 45 * 45 {
                        return None;
                    }
                    text.push(ALNUM[v / 45] as char);
                    text.push(ALNUM[v % 45] as char);
                    n -= 2;
                }
                if n == 1 {
                    let v = bits.take(6)? as usize;
                    text.push(*ALNUM.get(v)? as char);
                }
            }
            4 => {
                let n = bits.take(widths[2])? as usize;
                if n * 8 > bits.left() {
                    return None;
                }
                for _ in 0..n {
                    pending.push(bits.take(8)? as u8);
                }
            }
            8 | 13 => {
                // Kanji (Shift JIS) or Hanzi (GB 2312, GB/T 18284): 13 bits per double-byte character.
                flush(&mut pending, &mut text, charset, eci)?;
                if mode == 13 && bits.take(4)? != 1 {
                    return None; // only subset 1 (GB 2312) is defined
                }
                let n = bits.take(widths[3])? as usize;
                if n * 13 > bits.left() {
                    return None;
                }
                let mut raw = Vec::with_capacity(n * 2);
                for _ in 0..n {
                    let v = bits.take(13)?;
                    let two = if mode == 8 {
                        let t = ((v / 0xc0) << 8) | (v % 0xc0);
                        t + if t < 0x1f00 { 0x8140 } else { 0xc140 }
                    } else {
                        let t = ((v / 0x60) << 8) | (v % 0x60);
                        t + if t < 0xa00 { 0xa1a1 } else { 0xa6a1 }
                    };
                    raw.push((two >> 8) as u8);
                    raw.push(two as u8);
                }
                let enc = if mode == 8 {
                    encoding_rs::SHIFT_JIS
                } else {
                    encoding_rs::GB18030
                };
                text.push_str(&enc.decode_without_bom_handling_and_without_replacement(&raw)?);
            }
            7 => {
                flush(&mut pending, &mut text, charset, eci)?;
                let first = bits.take(8)?;
                let value = if first & 0x80 == 0 {
                    first
                } else if first & 0xc0 == 0x80 {
                    ((first & 0x3f) << 8) | bits.take(8)?
                } else if first & 0xe0 == 0xc0 {
                    ((first & 0x1f) << 16) | bits.take(16)?
                } else {
                    return None;
                };
                charset = eci_charset(value)?;
                eci = Some(value);
            }
            3 => {
                // Structured append: symbol index, count and parity; the text is this symbol's part.
                bits.take(16)?;
            }
            5 => {} // FNC1 in first position (GS1): no further header
            9 => {
                bits.take(8)?; // FNC1 in second position: application indicator
            }
            _ => return None,
        }
    }
    flush(&mut pending, &mut text, charset, eci)?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gf_tables_are_a_field() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, div(1, a)), 1, "inverse of {a}");
        }
        assert_eq!(pow_a(8), 0x1d);
    }

    #[test]
    fn format_table_has_distance_seven() {
        assert_eq!(format_codeword(0), 0x5412);
        for a in 0..32 {
            for b in a + 1..32 {
                assert!((format_codeword(a) ^ format_codeword(b)).count_ones() >= 7);
            }
        }
        // ISO/IEC 18004 annex D's example: version 7 -> 0x07C94.
        assert_eq!(version_codeword(7), 0x07c94);
    }

    #[test]
    fn alignment_centres_match_the_standard_samples() {
        assert_eq!(alignment_centres(1), Vec::<usize>::new());
        assert_eq!(alignment_centres(2), vec![6, 18]);
        assert_eq!(alignment_centres(7), vec![6, 22, 38]);
        assert_eq!(alignment_centres(32), vec![6, 34, 60, 86, 112, 138]);
        assert_eq!(alignment_centres(36), vec![6, 24, 50, 76, 102, 128, 154]);
        assert_eq!(alignment_centres(40), vec![6, 30, 58, 86, 114, 142, 170]);
    }

    #[test]
    fn raw_codeword_counts() {
        // Total codewords per version (ISO/IEC 18004 table 1): spot checks.
        for (v, n) in [
            (1, 26),
            (2, 44),
            (7, 196),
            (14, 581),
            (21, 1156),
            (40, 3706),
        ] {
            assert_eq!(layout(v).codewords, n, "version {v}");
        }
    }

    /// Systematic RS encoding (generator roots alpha^0..alpha^(n_ec-1)), for the correction tests.
    fn rs_encode(data: &[u8], n_ec: usize) -> Vec<u8> {
        let mut gen = vec![1u8];
        for i in 0..n_ec {
            let mut next = vec![0u8; gen.len() + 1];
            for (j, &g) in gen.iter().enumerate() {
                next[j] ^= g;
                next[j + 1] ^= mul(g, pow_a(i));
            }
            gen = next;
        }
        let mut rem = vec![0u8; n_ec];
        for &d in data {
            let f = d ^ rem[0];
            rem.remove(0);
            rem.push(0);
            for (r, &g) in rem.iter_mut().zip(&gen[1..]) {
                *r ^= mul(f, g);
            }
        }
        let mut out = data.to_vec();
        out.extend(rem);
        out
    }

    #[test]
    fn reed_solomon_corrects_up_to_the_bound_and_no_further() {
        let mut x = 99u32;
        let mut rnd = || {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            (x >> 16) as usize
        };
        for (len, n_ec) in [(26usize, 7usize), (44, 16), (100, 30), (255, 30)] {
            let data: Vec<u8> = (0..len - n_ec).map(|_| rnd() as u8).collect();
            let block = rs_encode(&data, n_ec);
            let t = n_ec / 2;
            for errors in 0..=t {
                let mut b = block.clone();
                let mut pos = Vec::new();
                while pos.len() < errors {
                    let p = rnd() % len;
                    if !pos.contains(&p) {
                        pos.push(p);
                        b[p] ^= (rnd() % 255 + 1) as u8;
                    }
                }
                assert_eq!(
                    correct_block(&mut b, n_ec, t),
                    Some(errors),
                    "{len}/{n_ec} e={errors}"
                );
                assert_eq!(b, block);
            }
            // Beyond the bound the block is rejected or (rarely, for tiny n_ec) lands on another codeword,
            // never "corrected" to something that is not a codeword.
            for _ in 0..50 {
                let mut b = block.clone();
                for _ in 0..t + 2 {
                    let p = rnd() % len;
                    b[p] ^= (rnd() % 255 + 1) as u8;
                }
                if correct_block(&mut b, n_ec, t).is_some() {
                    let mut s = vec![0u8; n_ec];
                    assert!(syndromes(&b, &mut s));
                }
            }
        }
    }
}

#[cfg(test)]
mod roundtrip {
    //! Symbols encoded by the `qrcode` crate (an independent encoder) read back exactly.
    use super::*;
    use qrcode::bits::Bits as QrBits;
    use qrcode::{Color, EcLevel as QrEc, QrCode, Version};

    fn grid(code: &QrCode) -> (usize, Vec<bool>) {
        let n = code.width();
        (
            n,
            code.to_colors().iter().map(|&c| c == Color::Dark).collect(),
        )
    }

    const LEVELS: [(QrEc, EcLevel); 4] = [
        (QrEc::L, EcLevel::L),
        (QrEc::M, EcLevel::M),
        (QrEc::Q, EcLevel::Q),
        (QrEc::H, EcLevel::H),
    ];

    #[test]
    fn every_version_and_level_reads() {
        for v in 1..=40i16 {
            for (qe, ec) in LEVELS {
                let text = if v < 6 {
                    format!("{v}{ec:?}")
                } else {
                    format!("https://example.com/v{v}?level={ec:?}&x=Mixed-Case_1234")
                };
                let code = QrCode::with_version(text.as_bytes(), Version::Normal(v), qe).unwrap();
                let (n, dark) = grid(&code);
                let sym = read(n, &dark).unwrap_or_else(|e| panic!("v{v} {ec:?}: {e:?}"));
                assert_eq!(sym.text, text);
                assert_eq!((sym.version, sym.ec, sym.mirrored), (v as usize, ec, false));
            }
        }
    }

    #[test]
    fn numeric_alnum_and_errors_up_to_the_bound() {
        let text = "HTTPS://10SS.NET/A?B=4004225199";
        let code = QrCode::with_version(text.as_bytes(), Version::Normal(3), QrEc::M).unwrap();
        let (n, mut dark) = grid(&code);
        assert_eq!(read(n, &dark).unwrap().text, text);
        let digits = "012345678901234567890123456789";
        let code = QrCode::with_version(digits.as_bytes(), Version::Normal(2), QrEc::H).unwrap();
        let (n2, dark2) = grid(&code);
        assert_eq!(read(n2, &dark2).unwrap().text, digits);
        // Flip a 3x3 patch of data modules in the lower right corner: a few codewords, corrected.
        for y in n - 3..n {
            for x in n - 3..n {
                dark[y * n + x] = !dark[y * n + x];
            }
        }
        let sym = read(n, &dark).unwrap();
        assert_eq!(sym.text, text);
        assert!(sym.corrected > 0);
    }

    #[test]
    fn mirrored_symbols_read_as_transposed() {
        for v in [1i16, 5, 7, 20] {
            let text = format!("mirror v{v}");
            let code = QrCode::with_version(text.as_bytes(), Version::Normal(v), QrEc::M).unwrap();
            let (n, dark) = grid(&code);
            let mut t = vec![false; n * n];
            for y in 0..n {
                for x in 0..n {
                    t[x * n + y] = dark[y * n + x];
                }
            }
            let sym = read(n, &t).unwrap();
            assert_eq!((sym.text.as_str(), sym.mirrored), (text.as_str(), true));
        }
    }

    #[test]
    fn wrong_geometry_is_rejected_cheaply() {
        // Noise has no valid format information; a version-7 symbol read at version 8's size fails early.
        let mut x = 1u32;
        let mut format_rejects = 0;
        for _ in 0..200 {
            let noise: Vec<bool> = (0..45 * 45)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    x >> 31 == 1
                })
                .collect();
            let err = read(45, &noise).unwrap_err();
            format_rejects += (err == Reject::Format) as usize;
            assert_eq!(read(44, &noise).unwrap_err(), Reject::Size);
        }
        assert!(
            format_rejects >= 160,
            "{format_rejects}/200 noise grids rejected by format"
        );
        let code = QrCode::with_version(b"v7", Version::Normal(7), QrEc::L).unwrap();
        let (n, dark) = grid(&code);
        assert_eq!(n, 45);
        let mut big = vec![false; 49 * 49];
        for y in 0..45 {
            for x in 0..45 {
                big[y * 49 + x] = dark[y * 45 + x];
            }
        }
        assert!(read(49, &big).is_err());
    }

    fn with_bits(v: i16, ec: QrEc, build: impl FnOnce(&mut QrBits)) -> (usize, Vec<bool>) {
        let mut bits = QrBits::new(Version::Normal(v));
        build(&mut bits);
        bits.push_terminator(ec).unwrap();
        let code = QrCode::with_bits(bits, ec).unwrap();
        grid(&code)
    }

    #[test]
    fn kanji_mode_reads_as_unicode() {
        let text = "点茗漢字";
        let (sjis, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!bad);
        let (n, dark) = with_bits(3, QrEc::M, |b| b.push_kanji_data(&sjis).unwrap());
        assert_eq!(read(n, &dark).unwrap().text, text);
    }

    #[test]
    fn eci_charsets_read_as_unicode() {
        let cases: [(u32, &str, &'static encoding_rs::Encoding); 4] = [
            (26, "打印机授权 ✓", encoding_rs::UTF_8),
            (32, "打印机授权", encoding_rs::GB18030),
            (20, "プリンター", encoding_rs::SHIFT_JIS),
            (4, "Zażółć gęślą", encoding_rs::ISO_8859_2),
        ];
        for (eci, text, enc) in cases {
            let (bytes, _, bad) = enc.encode(text);
            assert!(!bad, "{text}");
            let (n, dark) = with_bits(4, QrEc::M, |b| {
                b.push_eci_designator(eci).unwrap();
                b.push_byte_data(&bytes).unwrap();
            });
            assert_eq!(read(n, &dark).unwrap().text, text, "ECI {eci}");
        }
        // ISO 8859-1 (ECI 3) is Latin-1 proper, not Windows-1252.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_eci_designator(3).unwrap();
            b.push_byte_data(&[0x43, 0x61, 0x66, 0xe9, 0x80]).unwrap();
        });
        assert_eq!(read(n, &dark).unwrap().text, "Caf\u{e9}\u{80}");
        // Without ECI: Shift JIS bytes that are not UTF-8 read as Shift JIS.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("テスト");
        let (n, dark) = with_bits(2, QrEc::M, |b| b.push_byte_data(&sjis).unwrap());
        assert_eq!(read(n, &dark).unwrap().text, "テスト");
        // An ECI we cannot decode faithfully is rejected, not guessed.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_eci_designator(899).unwrap();
            b.push_byte_data(b"abc").unwrap();
        });
        assert_eq!(read(n, &dark).unwrap_err(), Reject::Data);
    }
}
