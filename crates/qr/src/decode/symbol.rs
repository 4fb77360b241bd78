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
//! ISO 8859-1 to 16, Shift JIS, GB 18030/GBK, Big5, EUC-KR, Windows code pages, code page 437, UTF-16 and
//! UTF-32 either way round; 899, binary data, is rejected: there is no text to give). Byte segments without
//! ECI are read as UTF-8 when valid, else Shift JIS when that decodes cleanly, else ISO 8859-1. Under FNC1
//! (GS1), an alphanumeric "%" is the FNC1 separator, returned as GS (0x1D), as zxing-cpp's plain text has it;
//! under FNC1 in second position the application indicator comes first in the text, as in zxing-cpp's.
//!
//! Mirrored symbols (printed or photographed through glass) sample as the transpose of the true grid; when
//! the grid as sampled has no valid format information, its transpose is tried.
//!
//! QR Code Model 1 (the symbology's first edition, versions 1-14, still on older labels and tickets) reads
//! too: it tells itself apart by its format information's mask (0x2825 instead of 0x5412), has no alignment
//! patterns or version information, and places its codewords in 2x4 and 4x2 module blocks (see
//! `model1_placement`). A grid whose format information fits both models is read as Model 2 first.

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
    /// A QR Code Model 1 symbol.
    pub model1: bool,
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
    let formats = read_format(g);
    let mut err = Reject::Format;
    for f in formats.into_iter().flatten() {
        let read = if f.model1 {
            read_model1(g, version, f)
        } else {
            read_model2(g, version, f)
        };
        match read {
            Ok(sym) => return Ok(sym),
            Err(e) => err = e,
        }
    }
    Err(err)
}

fn read_model2(g: &Grid<'_>, version: usize, f: Format) -> Result<Symbol, Reject> {
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
    let codewords = read_codewords(g, layout, f.mask);
    let total = layout.codewords;
    let blocks = BLOCKS[f.ec.index()][version] as usize;
    let spec = BlockSpec {
        n_ec: EC_PER_BLOCK[f.ec.index()][version] as usize,
        blocks,
        short_len: total / blocks,
        long_count: total % blocks,
        interleaved: true,
    };
    finish(g, version, f, &codewords, &spec)
}

/// Corrects `codewords` by `spec`'s blocks and parses the data (Model 1's after its four leading zero bits).
fn finish(
    g: &Grid<'_>,
    version: usize,
    f: Format,
    codewords: &[u8],
    spec: &BlockSpec,
) -> Result<Symbol, Reject> {
    let (data, corrected) = correct(codewords, spec, version, f.ec)?;
    let start = if f.model1 { 4 } else { 0 };
    let text = parse_segments(&data, start, version).ok_or(Reject::Data)?;
    Ok(Symbol {
        text,
        version,
        ec: f.ec,
        mirrored: g.transposed,
        corrected,
        model1: f.model1,
    })
}

fn read_model1(g: &Grid<'_>, version: usize, f: Format) -> Result<Symbol, Reject> {
    let placement = model1_placement(version);
    let mut codewords: Vec<u8> = placement
        .iter()
        .map(|bits| {
            bits.iter().fold(0u8, |byte, &i| {
                let (r, c) = (i as usize / g.size, i as usize % g.size);
                (byte << 1) | (g.at(r, c) ^ masked(f.mask, r, c)) as u8
            })
        })
        .collect();
    // The first codeword's first four bits sit in the bottom-right corner's 2x2 modules, which Model 1
    // leaves out of the data: they count as zero (the encoder's data starts with four zero bits).
    codewords[0] &= 0x0f;
    let (n_ec, blocks, data_len) = MODEL1_BLOCKS[version - 1][f.ec.index()];
    let spec = BlockSpec {
        n_ec: n_ec as usize,
        blocks: blocks as usize,
        short_len: n_ec as usize + data_len as usize,
        long_count: 0,
        interleaved: false,
    };
    // Codewords past the blocks (some level and version pairs have a few) are remainder codewords.
    let used = spec.blocks * spec.short_len;
    finish(
        g,
        version,
        f,
        codewords.get(..used).ok_or(Reject::Ecc)?,
        &spec,
    )
}

// ---- format and version information ------------------------------------------------------------------

const FORMAT_MASK: u32 = 0x5412;
/// Model 1's format-information mask.
pub(crate) const FORMAT_MASK_MODEL1: u32 = 0x2825;
/// Model 1's largest version (73 x 73 modules).
pub(crate) const MODEL1_MAX_VERSION: usize = 14;

/// BCH(15,5) codeword of the 5 format data bits, masked as a Model 2 symbol prints it.
#[cfg(test)]
const fn format_codeword(data: u32) -> u32 {
    format_bch(data) ^ FORMAT_MASK
}

/// BCH(15,5) codeword of the 5 format data bits, unmasked.
pub(crate) const fn format_bch(data: u32) -> u32 {
    let mut rem = data;
    let mut i = 0;
    while i < 10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
        i += 1;
    }
    (data << 10) | (rem & 0x3ff)
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

/// The (row, column) of format bit `i` (0 = least significant) in each copy of a `size`-module symbol: copy
/// 1 around the top-left finder, copy 2 split between the top-right and bottom-left finders.
pub(crate) fn format_modules(size: usize, i: usize) -> [(usize, usize); 2] {
    let one = match i {
        0..=5 => (i, 8),
        6 => (7, 8),
        7 => (8, 8),
        8 => (8, 7),
        _ => (8, 14 - i),
    };
    let two = if i < 8 {
        (8, size - 1 - i)
    } else {
        (size - 15 + i, 8)
    };
    [one, two]
}

/// What the format information says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Format {
    ec: EcLevel,
    mask: u8,
    model1: bool,
}

/// The format readings to try, best first: for each model, the valid codeword nearest to both copies.
/// Accepted when the two copies together are at most 6 bits off, or one of them at most 1 (a copy hidden
/// by glare or a smudge): random modules pass this about one time in twenty, so a wrong geometry rarely
/// reaches Reed-Solomon. Model 1 is a candidate only up to its largest size, and only where it fits better
/// than Model 2 (a Model 2 grid that fails Reed-Solomon, a common case in a hard frame, is not read a
/// second time as Model 1: that cost a page with no code 2 ms at the 95th percentile). Where it does, Model 2
/// is tried after it, so no Model 2 symbol is lost to a Model 1 reading of its format.
///
/// Some encoders print the format information without its mask (0x5412). zxing-cpp reads such symbols;
/// so do we, where both copies are within 3 bits of an unmasked word together and it fits strictly better
/// than any masked one (those are tried after it), except the all-light and all-dark words (level M with
/// mask 0, level Q with mask 7), which any blank or solid patch would match.
fn read_format(g: &Grid<'_>) -> [Option<Format>; 3] {
    let s = g.size;
    let (mut a, mut b) = (0u32, 0u32);
    for i in 0..15 {
        let [(r1, c1), (r2, c2)] = format_modules(s, i);
        a |= (g.at(r1, c1) as u32) << i;
        b |= (g.at(r2, c2) as u32) << i;
    }
    let best = |mask: u32| {
        let mut best: Option<(u32, u32)> = None;
        for data in 0..32 {
            if mask == 0 && (data == 0 || data == 31) {
                // Unmasked, level M with mask 0 is fifteen light modules and level Q with mask 7 fifteen
                // dark ones: any blank or solid patch.
                continue;
            }
            let cw = format_bch(data) ^ mask;
            let (da, db) = ((cw ^ a).count_ones(), (cw ^ b).count_ones());
            // Unmasked words (a quirk, see above) only where both copies are nearly clean: random modules
            // come that close about once in ten thousand.
            let fits = if mask == 0 {
                da + db <= 3
            } else {
                da + db <= 6 || da.min(db) <= 1
            };
            if fits {
                let score = da.min(db) * 2 + da + db;
                if best.is_none_or(|(s, _)| score < s) {
                    best = Some((score, data));
                }
            }
        }
        best
    };
    let format = |(score, data): (u32, u32), model1: bool| {
        let ec = match data >> 3 {
            0b01 => EcLevel::L,
            0b00 => EcLevel::M,
            0b11 => EcLevel::Q,
            _ => EcLevel::H,
        };
        (
            score,
            Format {
                ec,
                mask: (data & 7) as u8,
                model1,
            },
        )
    };
    let m2 = best(FORMAT_MASK).map(|b| format(b, false));
    let m1 = if (s - 17) / 4 <= MODEL1_MAX_VERSION {
        best(FORMAT_MASK_MODEL1).map(|b| format(b, true))
    } else {
        None
    };
    // Model 1 where it fits strictly better than Model 2; an unmasked Model 2 word where it fits strictly
    // better than both.
    let m1 = m1.filter(|one| m2.is_none_or(|two| one.0 < two.0));
    let fitted = m2.map(|f| f.0).into_iter().chain(m1.map(|f| f.0)).min();
    let raw = best(0)
        .map(|b| format(b, false))
        .filter(|raw| fitted.is_none_or(|s| raw.0 < s));
    let mut out = [raw, m1, m2];
    // Best first (no two tie: each one kept before another fits strictly better).
    out.sort_by_key(|c| c.map_or(u32::MAX, |c| c.0));
    out.map(|c| c.map(|c| c.1))
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
pub(crate) fn alignment_centres(version: usize) -> Vec<usize> {
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
pub(crate) fn masked(mask: u8, r: usize, c: usize) -> bool {
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

/// Model 1 codeword placement for `version` (1..=14): per codeword, its 8 modules (`row * size + col`),
/// most significant bit first. Every codeword is a block of 2 x 4 or 4 x 2 modules, filled from its
/// bottom-right module leftwards, then a row up. In order:
/// - the right edge: two strips 2 modules wide from the bottom up to row 9, 4 rows a codeword; the outer
///   strip gives every second place but its first and last to an extension pattern;
/// - the middle, columns 9 to size - 5: strips 4 modules wide, right to left, each from the bottom up, 2
///   rows a codeword, stepping over the timing row; the first strip stops below the top-right finder's
///   format row, and every second strip but the last gives its bottom place to an extension pattern;
/// - the left, between the two left finders: strips 2 wide at columns 7-8, 4-5, 2-3 and 0-1, each from
///   row size - 9 up to row 9, 4 rows a codeword.
///
/// (ISO/IEC 18004:2000 Annex M; checked against zxing-cpp's independent reader, see
/// `categories::model1_code`.)
pub(crate) fn model1_placement(version: usize) -> &'static [[u16; 8]] {
    static PLACEMENTS: OnceLock<Vec<Vec<[u16; 8]>>> = OnceLock::new();
    let all = PLACEMENTS.get_or_init(|| {
        (1..=MODEL1_MAX_VERSION)
            .map(build_model1_placement)
            .collect()
    });
    &all[version - 1]
}

fn build_model1_placement(version: usize) -> Vec<[u16; 8]> {
    let s = 17 + 4 * version;
    let mut out = Vec::new();
    // A `w`-module-wide block whose bottom-right module is (r, c).
    let mut block = |r: usize, c: usize, w: usize| {
        out.push(std::array::from_fn(|k| {
            ((r - k / w) * s + c - k % w) as u16
        }));
    };
    let right = (s - 8) / 4;
    for strip in 0..2 {
        for i in 0..right {
            if strip == 0 && i % 2 == 0 && i > 0 && i + 1 < right {
                continue; // extension pattern
            }
            block(s - 1 - 4 * i, s - 1 - 2 * strip, 2);
        }
    }
    let strips = version + 1;
    let pairs = s / 2;
    for t in 0..strips {
        for i in 0..pairs {
            if (t == 0 && i + 4 >= pairs) || (i == 0 && t % 2 == 1 && t + 1 != strips) {
                continue; // the top-right finder, or an extension pattern
            }
            let r = s - 1 - 2 * i - usize::from(i + 3 >= pairs);
            block(r, s - 5 - 4 * t, 4);
        }
    }
    for c in [8, 5, 3, 1] {
        for i in 0..(s - 16) / 4 {
            block(s - 9 - 4 * i, c, 2);
        }
    }
    out
}

/// Model 1 error correction per version (1..=14) and level (L, M, Q, H): (EC codewords per block, blocks,
/// data codewords per block). All blocks of a symbol are the same size. (ISO/IEC 18004:2000 Annex M, table
/// M.4, as zxing-cpp carries it; where the blocks fill fewer codewords than the symbol holds, the rest are
/// remainder codewords.)
pub(crate) const MODEL1_BLOCKS: [[(u8, u8, u8); 4]; MODEL1_MAX_VERSION] = [
    [(7, 1, 19), (10, 1, 16), (13, 1, 13), (17, 1, 9)],
    [(10, 1, 36), (16, 1, 30), (22, 1, 24), (30, 1, 16)],
    [(15, 1, 57), (28, 1, 44), (36, 1, 36), (48, 1, 24)],
    [(20, 1, 80), (40, 1, 60), (50, 1, 50), (66, 1, 34)],
    [(26, 1, 108), (52, 1, 82), (66, 1, 68), (44, 2, 23)],
    [(34, 1, 136), (32, 2, 53), (42, 2, 43), (56, 2, 29)],
    [(42, 1, 170), (40, 2, 66), (52, 2, 54), (46, 3, 24)],
    [(24, 2, 104), (48, 2, 80), (64, 2, 64), (56, 3, 29)],
    [(30, 2, 123), (60, 2, 93), (50, 3, 52), (68, 3, 34)],
    [(34, 2, 145), (68, 2, 111), (58, 3, 61), (58, 4, 31)],
    [(40, 2, 168), (40, 4, 64), (52, 4, 52), (54, 5, 29)],
    [(46, 2, 192), (46, 4, 73), (58, 4, 61), (62, 5, 33)],
    [(36, 3, 144), (52, 4, 83), (66, 4, 69), (58, 6, 32)],
    [(40, 3, 163), (60, 4, 92), (60, 5, 62), (66, 6, 35)],
];

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

/// Most EC codewords in one block: 30 in Model 2, 68 in Model 1 (version 9-H).
const MAX_EC: usize = 68;

/// Corrects one block in place (data then EC codewords) with at most `max_errors` errors. Returns the
/// number of corrected codewords, or `None` when the block is beyond that.
fn correct_block(block: &mut [u8], n_ec: usize, max_errors: usize) -> Option<usize> {
    let n = block.len();
    if n_ec > MAX_EC || n_ec >= n {
        return None;
    }
    let mut synd = [0u8; MAX_EC];
    let synd = &mut synd[..n_ec];
    if syndromes(block, synd) {
        return Some(0);
    }
    if max_errors == 0 {
        return None;
    }
    // Berlekamp-Massey: error locator lambda(x) = prod (1 - X_k x).
    let mut lambda = [0u8; MAX_EC + 1];
    let mut prev = [0u8; MAX_EC + 1];
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
        for i in 0..(MAX_EC + 1).saturating_sub(m) {
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
    let mut positions = [0usize; MAX_EC / 2];
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
    let mut omega = [0u8; MAX_EC];
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

/// Systematic RS encoding (generator roots alpha^0..alpha^(n_ec-1)): the data followed by its `n_ec` EC
/// codewords. For the tests and the Model 1 test images (`categories`); the decoder never encodes.
pub(crate) fn rs_encode(data: &[u8], n_ec: usize) -> Vec<u8> {
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

/// A symbol's Reed-Solomon blocks: `blocks` blocks of `short_len` codewords (data + EC), the last
/// `long_count` of them one data codeword longer.
struct BlockSpec {
    n_ec: usize,
    blocks: usize,
    short_len: usize,
    long_count: usize,
    /// Model 2 interleaves the blocks codeword by codeword (data, then EC); Model 1 places each block's
    /// data codewords in turn, then each block's EC codewords.
    interleaved: bool,
}

/// De-interleaves and corrects all blocks; returns the data codewords and the number corrected.
fn correct(
    codewords: &[u8],
    spec: &BlockSpec,
    version: usize,
    ec: EcLevel,
) -> Result<(Vec<u8>, usize), Reject> {
    let BlockSpec {
        n_ec,
        blocks,
        short_len,
        long_count,
        interleaved,
    } = *spec;
    let total = blocks * short_len + long_count;
    if codewords.len() != total {
        return Err(Reject::Ecc);
    }
    let short_count = blocks - long_count;
    let short_data = short_len - n_ec;
    let max_errors = (n_ec - protection(version, ec)) / 2;
    // Block b's data codewords are interleaved first (long blocks have one more, at the end), then EC.
    let mut bufs: Vec<Vec<u8>> = (0..blocks)
        .map(|b| Vec::with_capacity(short_len + (b >= short_count) as usize))
        .collect();
    let mut it = codewords.iter().copied();
    if interleaved {
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
    } else {
        // The lengths add up to `total`, checked above: every block comes out whole.
        for (b, buf) in bufs.iter_mut().enumerate() {
            buf.extend((&mut it).take(short_data + usize::from(b >= short_count)));
        }
        for buf in bufs.iter_mut() {
            buf.extend((&mut it).take(n_ec));
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
    Utf16Le,
    Utf32Be,
    Utf32Le,
    /// IBM code page 437 (the original PC character set).
    Cp437,
    /// An ISO 8859 part that encoding_rs only has as its Windows superset: C1 controls (0x80-0x9F) as
    /// themselves, every other byte as the Windows code page has it (identical there).
    IsoOf(&'static encoding_rs::Encoding),
    Other(&'static encoding_rs::Encoding),
}

/// The character set an ECI assignment number selects (AIM ECI). `None`: one we cannot decode faithfully.
fn eci_charset(eci: u32) -> Option<Charset> {
    use encoding_rs as e;
    Some(match eci {
        0 | 2 => Charset::Cp437,
        1 | 3 => Charset::Latin1,
        4 => Charset::Other(e::ISO_8859_2),
        5 => Charset::Other(e::ISO_8859_3),
        6 => Charset::Other(e::ISO_8859_4),
        7 => Charset::Other(e::ISO_8859_5),
        8 => Charset::Other(e::ISO_8859_6),
        9 => Charset::Other(e::ISO_8859_7),
        10 => Charset::Other(e::ISO_8859_8),
        11 => Charset::IsoOf(e::WINDOWS_1254), // ISO 8859-9
        12 => Charset::Other(e::ISO_8859_10),
        13 => Charset::IsoOf(e::WINDOWS_874), // ISO 8859-11
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
        31 => Charset::Other(e::GBK),
        33 => Charset::Utf16Le,
        34 => Charset::Utf32Be,
        35 => Charset::Utf32Le,
        _ => return None,
    })
}

/// Code page 437, bytes 0x80-0xff in order (the lower half is ASCII).
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

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
        Charset::Utf16Be | Charset::Utf16Le => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| match cs {
                    Charset::Utf16Be => u16::from_be_bytes([p[0], p[1]]),
                    _ => u16::from_le_bytes([p[0], p[1]]),
                })
                .collect();
            String::from_utf16(&units).ok()
        }
        Charset::Utf32Be | Charset::Utf32Le => {
            if !bytes.len().is_multiple_of(4) {
                return None;
            }
            bytes
                .chunks_exact(4)
                .map(|p| {
                    let b = [p[0], p[1], p[2], p[3]];
                    char::from_u32(match cs {
                        Charset::Utf32Be => u32::from_be_bytes(b),
                        _ => u32::from_le_bytes(b),
                    })
                })
                .collect()
        }
        Charset::Cp437 => bytes
            .iter()
            .map(|&b| match b {
                0..=0x7f => Some(b as char),
                _ => CP437_HIGH.chars().nth(b as usize - 0x80),
            })
            .collect(),
        Charset::IsoOf(enc) => bytes
            .iter()
            .map(|&b| match b {
                0..=0x9f => Some(b as char),
                _ => enc
                    .decode_without_bom_handling_and_without_replacement(&[b])?
                    .chars()
                    .next(),
            })
            .collect(),
        Charset::Other(enc) => enc
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| s.into_owned()),
    }
}

/// Parses the data codewords, from bit `start` on, into text; `None` for a malformed stream.
fn parse_segments(data: &[u8], start: usize, version: usize) -> Option<String> {
    let mut bits = Bits { data, pos: start };
    let widths = count_bits(version);
    let mut text = String::new();
    let mut charset = Charset::Guess;
    let mut eci = None;
    let mut fnc1 = false;
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
                let start = text.len();
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
                if fnc1 {
                    // Under FNC1 (GS1 and AIM application data), "%" in alphanumeric data stands for FNC1,
                    // transmitted as GS (0x1D), and "%%" for "%" (ISO/IEC 18004 7.4.8.1).
                    let segment = text.split_off(start);
                    let mut chars = segment.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c != '%' {
                            text.push(c);
                        } else if chars.next_if_eq(&'%').is_some() {
                            text.push('%');
                        } else {
                            text.push('\u{1d}');
                        }
                    }
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
            5 => fnc1 = true, // FNC1 in first position (GS1): no further header
            9 => {
                // FNC1 in second position (AIM application data): the application indicator, two digits
                // (00-99) or a letter (its ASCII value + 100), is returned in front of the data, as
                // zxing-cpp does (ISO/IEC 18004 7.4.8.3). Any other value is no valid symbol.
                let indicator = bits.take(8)?;
                flush(&mut pending, &mut text, charset, eci)?;
                match indicator {
                    0..=99 => text.push_str(&format!("{indicator:02}")),
                    165..=190 | 197..=222 => text.push(char::from((indicator - 100) as u8)),
                    _ => return None,
                }
                fnc1 = true;
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

    #[test]
    fn reed_solomon_corrects_up_to_the_bound_and_no_further() {
        let mut x = 99u32;
        let mut rnd = || {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            (x >> 16) as usize
        };
        // (102, 68): a Model 1 version 9-H block, the most EC codewords there are.
        for (len, n_ec) in [(26usize, 7usize), (44, 16), (100, 30), (255, 30), (102, 68)] {
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
    fn gs1_alphanumeric_percent_is_fnc1() {
        // FNC1 in first position, then "01...%10ABC%%": FNC1 (GS) between the element strings, "%%" a percent.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_fnc1_first_position().unwrap();
            b.push_alphanumeric_data(b"0104912345123459%10ABC%%")
                .unwrap();
        });
        assert_eq!(read(n, &dark).unwrap().text, "0104912345123459\u{1d}10ABC%");
        // Without FNC1 the same data is literal.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_alphanumeric_data(b"0104912345123459%10ABC%%")
                .unwrap();
        });
        assert_eq!(read(n, &dark).unwrap().text, "0104912345123459%10ABC%%");
    }

    #[test]
    fn fnc1_second_position_puts_the_application_indicator_first() {
        // Expected texts are zxing-cpp 3.1.1's for the same symbols (two digits, zero-padded; a letter as
        // its ASCII value + 100); it reads no symbol with any other indicator, and neither do we.
        for (indicator, data, want) in [
            (37u8, &b"ABC123"[..], Some("37ABC123")),
            (5, b"9", Some("059")),
            (165, b"XYZ", Some("AXYZ")),
            (222, b"hello", Some("zhello")),
            (150, b"BAD", None),
            (100, b"BAD", None),
        ] {
            let (n, dark) = with_bits(2, QrEc::M, |b| {
                b.push_fnc1_second_position(indicator).unwrap();
                b.push_byte_data(data).unwrap();
            });
            assert_eq!(
                read(n, &dark).ok().map(|s| s.text),
                want.map(String::from),
                "{indicator}"
            );
        }
        // Under it, as under FNC1 in first position, an alphanumeric "%" is the FNC1 separator.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_fnc1_second_position(b'a' + 100).unwrap();
            b.push_alphanumeric_data(b"12%34").unwrap();
        });
        assert_eq!(read(n, &dark).unwrap().text, "a12\u{1d}34");
    }

    #[test]
    fn symbols_with_unmasked_format_information_read() {
        let mut levels_read = Vec::new();
        let cases = [
            (1i16, QrEc::L),
            (2, QrEc::M),
            (3, QrEc::M),
            (4, QrEc::Q),
            (7, QrEc::H),
            (12, QrEc::M),
        ];
        for (v, qe) in cases {
            let text = format!("unmasked v{v}");
            let code = QrCode::with_version(text.as_bytes(), Version::Normal(v), qe).unwrap();
            let (n, mut dark) = grid(&code);
            let at = |dark: &[bool], i: usize| {
                let (r, c) = format_modules(n, i)[0];
                dark[r * n + c] as u32
            };
            let printed: u32 = (0..15).map(|i| at(&dark, i) << i).sum();
            let data = (0..32).find(|&d| format_codeword(d) == printed).unwrap();
            if data == 0 || data == 31 {
                continue; // level M mask 0 or level Q mask 7: all light or all dark unmasked, not taken
            }
            for i in 0..15 {
                for (r, c) in format_modules(n, i) {
                    dark[r * n + c] = (format_bch(data) >> i) & 1 == 1;
                }
            }
            let sym = read(n, &dark).unwrap_or_else(|e| panic!("v{v} {qe:?}: {e:?}"));
            assert_eq!(sym.text, text);
            levels_read.push(sym.ec);
        }
        // Every level read (at most one case had an all-light or all-dark word).
        assert!(levels_read.len() >= cases.len() - 1);
        for ec in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
            assert!(levels_read.contains(&ec), "{ec:?}");
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
        // ISO 8859-9 (ECI 11) and 8859-11 (ECI 13): their C1 controls stay controls (the Windows code pages
        // encoding_rs decodes them with have punctuation there), the rest as those pages have it.
        for (eci, bytes, text) in [
            (
                11u32,
                &[0x49, 0xfd, 0x6b, 0x85, 0xd0][..],
                "I\u{131}k\u{85}\u{11e}",
            ),
            (
                13,
                &[0xca, 0xc7, 0xd1, 0xca, 0xb4, 0xd5, 0x80][..],
                "\u{e2a}\u{e27}\u{e31}\u{e2a}\u{e14}\u{e35}\u{80}",
            ),
        ] {
            let (n, dark) = with_bits(2, QrEc::M, |b| {
                b.push_eci_designator(eci).unwrap();
                b.push_byte_data(bytes).unwrap();
            });
            assert_eq!(read(n, &dark).unwrap().text, text, "ECI {eci}");
        }
        // Code page 437 (ECI 0 and 2), GBK (31), UTF-16LE (33), UTF-32BE and LE (34, 35).
        let (u16le, u32be, u32le): (Vec<u8>, Vec<u8>, Vec<u8>) = (
            "打印 ✓".encode_utf16().flat_map(u16::to_le_bytes).collect(),
            "打印 ✓"
                .chars()
                .flat_map(|c| (c as u32).to_be_bytes())
                .collect(),
            "打印 ✓"
                .chars()
                .flat_map(|c| (c as u32).to_le_bytes())
                .collect(),
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("打印机");
        for (eci, bytes, text) in [
            (
                0u32,
                &[0x43, 0x61, 0x66, 0x82, 0x20, 0xb0, 0xe1, 0xff][..],
                "Caf\u{e9} \u{2591}\u{df}\u{a0}",
            ),
            (2, &[0x9c, 0x31][..], "\u{a3}1"),
            (31, &gbk[..], "打印机"),
            (33, &u16le[..], "打印 ✓"),
            (34, &u32be[..], "打印 ✓"),
            (35, &u32le[..], "打印 ✓"),
        ] {
            let (n, dark) = with_bits(3, QrEc::M, |b| {
                b.push_eci_designator(eci).unwrap();
                b.push_byte_data(bytes).unwrap();
            });
            assert_eq!(read(n, &dark).unwrap().text, text, "ECI {eci}");
        }
        assert_eq!(CP437_HIGH.chars().count(), 128);
        // ISO 8859-11 leaves 0xdb-0xde and 0xfc-0xff unassigned: such bytes are rejected, not guessed.
        let (n, dark) = with_bits(2, QrEc::M, |b| {
            b.push_eci_designator(13).unwrap();
            b.push_byte_data(&[0xca, 0xdb]).unwrap();
        });
        assert_eq!(read(n, &dark).unwrap_err(), Reject::Data);
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

#[cfg(test)]
mod model1 {
    //! Model 1 symbols from `categories::model1_code` (our own encoder, built on this module's placement and
    //! block tables; zxing-cpp reads its output, see `categories::model1_code`) read back exactly.
    use super::*;
    use crate::categories::model1_code;
    use qrcode::{Color, EcLevel as QrEc};

    const LEVELS: [(QrEc, EcLevel); 4] = [
        (QrEc::L, EcLevel::L),
        (QrEc::M, EcLevel::M),
        (QrEc::Q, EcLevel::Q),
        (QrEc::H, EcLevel::H),
    ];

    fn grid(text: &str, v: usize, qe: QrEc, mask: u8) -> Vec<bool> {
        model1_code(text.as_bytes(), v, qe, mask)
            .unwrap_or_else(|| panic!("{text:?} fits v{v} {qe:?}"))
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect()
    }

    #[test]
    fn every_version_level_and_mask_reads() {
        for v in 1..=MODEL1_MAX_VERSION {
            for (qe, ec) in LEVELS {
                for mask in 0..8u8 {
                    // As long as fits: every data codeword carries text.
                    let long = format!("{v}{ec:?}{mask} https://example.com/m1/").repeat(20);
                    let fits =
                        |len: &usize| model1_code(&long.as_bytes()[..*len], v, qe, mask).is_some();
                    let len = (1..long.len()).rev().find(fits).expect("a character fits");
                    let text = &long[..len];
                    let n = 17 + 4 * v;
                    let sym = read(n, &grid(text, v, qe, mask))
                        .unwrap_or_else(|e| panic!("v{v} {ec:?} mask {mask}: {e:?}"));
                    assert_eq!(sym.text, text);
                    assert!(sym.model1);
                    assert_eq!((sym.version, sym.ec, sym.mirrored), (v, ec, false));
                }
            }
        }
    }

    #[test]
    fn mirrored_model1_reads_as_transposed() {
        let text = "https://example.com/m1/mirrored";
        let (v, n) = (4, 33);
        let g = grid(text, v, QrEc::M, 5);
        let t: Vec<bool> = (0..n * n).map(|i| g[(i % n) * n + i / n]).collect();
        let sym = read(n, &t).expect("the transpose reads");
        assert_eq!(
            (sym.text.as_str(), sym.mirrored, sym.model1),
            (text, true, true)
        );
    }

    #[test]
    fn model1_rejects_a_grid_beyond_its_error_correction() {
        // Codewords 1..=k of a version 9-H symbol damaged (3 blocks of 34 data and 68 EC codewords, placed
        // block after block: the most EC codewords a block has, where the decoder's fixed buffers once
        // ended at 30): it reads exactly while no block has more than 34 errors, and is rejected (never
        // misread, never a panic) beyond.
        let text = "9H";
        let (v, n) = (9, 53);
        let clean = grid(text, v, QrEc::H, 3);
        let placement = model1_placement(v);
        let block_of = |k: usize| {
            if k < 3 * 34 {
                k / 34
            } else {
                (k - 3 * 34) / 68
            }
        };
        for flips in [1usize, 20, 60, 101, 120, 200] {
            let mut g = clean.clone();
            let mut errors = [0usize; 3];
            for (k, cw) in placement.iter().enumerate().skip(1).take(flips) {
                g[cw[7] as usize] ^= true;
                errors[block_of(k)] += 1;
            }
            let readable = errors.iter().all(|&e| e <= 34);
            match read(n, &g) {
                Ok(sym) => {
                    assert!(readable, "{flips} flipped: {errors:?}");
                    assert_eq!(sym.text, text, "{flips} flipped");
                }
                Err(e) => assert!(!readable && e >= Reject::Ecc, "{flips}: {errors:?} {e:?}"),
            }
        }
    }

    #[test]
    fn random_grids_with_a_model1_format_never_panic_or_read() {
        let mut x = 7u32;
        let mut rnd = || {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            x >> 16
        };
        for v in 1..=MODEL1_MAX_VERSION {
            let n = 17 + 4 * v;
            let template = grid("x", v, QrEc::L, 0);
            for _ in 0..40 {
                let mut g: Vec<bool> = (0..n * n).map(|_| rnd() & 1 == 1).collect();
                // Keep the drawn format information (a valid Model 1 word), randomise everything else.
                for (r, c) in (0..9).map(|i| (i, 8)).chain((0..9).map(|i| (8, i))) {
                    g[r * n + c] = template[r * n + c];
                }
                for i in 0..8 {
                    g[8 * n + n - 1 - i] = template[8 * n + n - 1 - i];
                    g[(n - 1 - i) * n + 8] = template[(n - 1 - i) * n + 8];
                }
                assert!(read(n, &g).is_err(), "v{v}");
            }
        }
    }
}
