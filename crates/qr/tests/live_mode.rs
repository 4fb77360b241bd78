//! Live mode (`Decoder::live`, `DecoderOptions::live`): the expensive passes are spread over consecutive
//! frames, so a frame that only a late pass reads is still read after a few frames, with any budget.
//! (Its timing is measured by the bench, `scripts/bench-qr.sh`, not here.)

use quickauth_qr::{categories, corpus, Decoder, DecoderOptions, LiveBudget, LumaFrame};

mod common;

#[test]
fn a_zero_budget_still_covers_the_full_search_over_frames() {
    // With no time at all, each frame runs the base passes and exactly one more unit of the ring, so the
    // progression is deterministic: every frame the full search reads must be read within (at most)
    // as many frames as the search has units (~40).
    let zero = DecoderOptions {
        live: Some(LiveBudget { max_ms: 0.0 }),
        ..DecoderOptions::default()
    };
    let mut late = 0;
    for frame in corpus::generate(1, 40) {
        let img = frame.luma();
        let lf = LumaFrame {
            width: img.width(),
            height: img.height(),
            data: img.as_raw(),
        };
        let mut full = Decoder::new(DecoderOptions::default());
        let want = full.decode(lf);
        let Some(pass) = full.last_pass() else {
            continue;
        };
        let mut live = Decoder::new(zero.clone());
        let mut got = None;
        for i in 0..48 {
            let found = live.decode(lf);
            if let Some(d) = found.first() {
                got = Some((i, d.text.clone()));
                break;
            }
        }
        let (i, text) = got.unwrap_or_else(|| panic!("{}: live mode never read it", frame.name));
        assert_eq!(text, want[0].text, "{}", frame.name);
        assert_eq!(text, frame.payload, "{}", frame.name);
        // Base passes (the first crop's first two steps) read on the first frame.
        if pass < 2 {
            assert_eq!(
                i, 0,
                "{}: base pass {pass} read only on frame {i}",
                frame.name
            );
        } else {
            late += 1;
        }
    }
    assert!(
        late >= 3,
        "only {late} frames needed a late pass: the test lost its point"
    );
}

#[test]
fn live_default_keeps_the_still_image_meaning() {
    // `DecoderOptions::default()` is the full search; live mode is opt-in.
    assert_eq!(DecoderOptions::default().live, None);
    assert!(DecoderOptions::live().live.is_some());
    let mut d = Decoder::live();
    let blank = vec![200u8; 1280 * 720];
    for _ in 0..5 {
        assert!(d
            .decode(LumaFrame {
                width: 1280,
                height: 720,
                data: &blank
            })
            .is_empty());
    }
}

#[test]
fn a_receipts_small_code_reads_in_live_mode() {
    // A receipt is one long region of text: the label-sized crops shrink its code below reading size (the
    // full search with default options reads none of these three), and live mode's native step, the region
    // at the image's own scale up to 0.4 MP, reads it. With no time budget the ring advances one unit a
    // frame, so this is deterministic.
    assert!(DecoderOptions::live().native_scan);
    let zero = DecoderOptions {
        live: Some(LiveBudget { max_ms: 0.0 }),
        ..DecoderOptions::live()
    };
    for index in [1, 11, 24] {
        let img = categories::generate_one("receipt", 5, index).expect("a category");
        let luma = img.image.to_luma8();
        let lf = LumaFrame {
            width: luma.width(),
            height: luma.height(),
            data: luma.as_raw(),
        };
        let payload = img.payload.clone().expect("a code");
        assert!(
            Decoder::new(DecoderOptions::default())
                .decode(lf)
                .is_empty(),
            "{}: the full search reads it now; the test lost its point",
            img.name
        );
        let mut live = Decoder::new(zero.clone());
        let read = (0..64).find_map(|_| live.decode(lf).into_iter().next());
        assert_eq!(
            read.map(|d| d.text),
            Some(payload),
            "{} {:?}",
            img.name,
            img.tags
        );
    }
}

#[test]
fn a_small_code_among_clutter_reads_in_live_mode() {
    // The contrast map ranks a cluttered photo's text and barcodes above a small code: the code's region
    // comes after the first two, and only its cheap steps are in the ring (its fit step early, the other two
    // last). With no time budget the ring advances one unit a frame, so this is deterministic.
    let zero = DecoderOptions {
        live: Some(LiveBudget { max_ms: 0.0 }),
        ..DecoderOptions::live()
    };
    // Seed 5's 0010. (Its 0044, which the full search reads there too, reads on the half-size whole-frame
    // scan in live mode, where each frame has a fresh budget of checks.)
    let img = categories::generate_one("clutter", 5, 10).expect("a category");
    let luma = img.image.to_luma8();
    let lf = LumaFrame {
        width: luma.width(),
        height: luma.height(),
        data: luma.as_raw(),
    };
    let mut live = Decoder::new(zero);
    let read = (0..64).find_map(|_| live.decode(lf).into_iter().next());
    assert_eq!(
        read.map(|d| d.text),
        img.payload.clone(),
        "{} {:?}",
        img.name,
        img.tags
    );
    common::assert_later_regions_cheap_step(live.last_pass().expect("read"), &img.name);
}
