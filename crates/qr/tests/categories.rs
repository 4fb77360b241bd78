//! The decoder on the generated edge-case categories (`quickauth_qr::categories`): every image it reads is
//! read exactly (0 wrong, always), and each category's read rate stays at the level measured when the
//! category was added (full counts: `scripts/bench-qr.sh`, crates/qr/BENCH.md). Also: the generator is
//! reproducible.

use quickauth_qr::categories::{self, CATEGORIES};
use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};

/// (category, images, at least this many read). Small counts: the test runs unoptimised-ish (opt-level 2
/// for this crate) on every `scripts/test.sh`.
const FLOORS: &[(&str, usize, usize)] = &[
    ("small", 6, 6),
    ("tiny", 8, 8),
    ("version", 6, 6),
    ("logo", 6, 6),
    ("colour", 6, 6),
    ("lowcontrast", 6, 6),
    ("mirrored", 6, 6),
    ("text", 6, 6),
    ("highres", 3, 3),
];

#[test]
fn every_category_reads_exactly() {
    assert_eq!(FLOORS.len(), CATEGORIES.len());
    let mut report = Vec::new();
    for &(cat, count, floor) in FLOORS {
        let mut read = 0;
        for img in categories::generate(cat, 5, count) {
            let luma = img.image.to_luma8();
            let mut d = Decoder::new(DecoderOptions::default());
            let found = d.decode(LumaFrame {
                width: luma.width(),
                height: luma.height(),
                data: luma.as_raw(),
            });
            for f in &found {
                assert_eq!(
                    f.text, img.payload,
                    "{cat}/{} {:?}: wrong payload",
                    img.name, img.tags
                );
            }
            read += !found.is_empty() as usize;
        }
        report.push(format!("{cat} {read}/{count}"));
        assert!(
            read >= floor,
            "{cat}: read {read}/{count}, floor {floor} ({report:?})"
        );
    }
    eprintln!("{report:?}");
}

#[test]
fn text_category_covers_kanji_and_eci() {
    let imgs = categories::generate("text", 2, 6);
    let tags: Vec<&str> = imgs.iter().map(|i| i.tags[1].as_str()).collect();
    assert_eq!(
        tags,
        [
            "kanji",
            "sjis",
            "eci-utf8",
            "eci-gb18030",
            "eci-iso8859",
            "utf8"
        ]
    );
    assert!(imgs.iter().all(|i| !i.payload.is_ascii()));
}

#[test]
fn generator_is_reproducible() {
    for cat in ["tiny", "logo", "text"] {
        let a = categories::generate(cat, 9, 3);
        let b = categories::generate(cat, 9, 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (&x.name, &x.payload, &x.bytes),
                (&y.name, &y.payload, &y.bytes)
            );
        }
        let c = categories::generate(cat, 10, 3);
        assert!(a.iter().zip(&c).any(|(x, y)| x.bytes != y.bytes));
    }
    assert!(categories::generate("nope", 1, 3).is_empty());
}
