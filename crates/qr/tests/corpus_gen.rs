//! Corpus generator tests: reproducible for a seed, frames are well formed, truth agrees with the QR inside.

use quickauth_qr::corpus::{self, CorpusFrame, FRAME_H, FRAME_W};
use quickauth_qr::parse_payload;

fn rqrr_texts(frame: &CorpusFrame) -> Vec<String> {
    let luma = frame.luma();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(FRAME_W as usize, FRAME_H as usize, |x, y| {
            luma.get_pixel(x as u32, y as u32).0[0]
        });
    prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_and_truth() {
    let a: Vec<CorpusFrame> = corpus::generate(42, 6).collect();
    let b: Vec<CorpusFrame> = corpus::generate(42, 6).collect();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name, y.name);
        assert_eq!(x.payload, y.payload);
        assert_eq!(x.tags, y.tags);
        assert_eq!(x.file_bytes(), y.file_bytes(), "{}", x.name);
    }
    // A frame does not depend on the ones generated before it.
    let third = corpus::generate_frame(42, 3);
    assert_eq!(third.file_bytes(), a[3].file_bytes());
    // Another seed gives other frames.
    let c: Vec<CorpusFrame> = corpus::generate(43, 6).collect();
    assert!(a.iter().zip(&c).all(|(x, y)| x.payload != y.payload));
}

#[test]
fn frames_are_well_formed_and_truth_is_consistent() {
    let frames: Vec<CorpusFrame> = corpus::generate(7, 40).collect();
    for f in &frames {
        assert_eq!(
            (f.image.width(), f.image.height()),
            (FRAME_W, FRAME_H),
            "{}",
            f.name
        );
        assert_eq!(f.name.ends_with(".jpg"), f.jpeg.is_some());
        assert_eq!(
            f.name.ends_with(".jpg"),
            f.tags.iter().any(|t| t.starts_with("jpeg"))
        );
        assert_eq!(
            f.image.color().has_color(),
            f.tags.iter().any(|t| t == "colour"),
            "{} {:?} {:?}",
            f.name,
            f.image.color(),
            f.tags
        );
        assert!(f.tags.iter().any(|t| t.starts_with("scale")));
        let parsed = parse_payload(&f.payload).expect("generated payloads parse");
        assert_eq!(parsed.machine_code(), Some(f.machine_code.as_str()));
    }
    // The mix covers the dev corpus's conditions.
    for tag in [
        "blur", "motion", "dim", "gradient", "noise", "colour", "jpeg", "hard",
    ] {
        assert!(
            frames
                .iter()
                .any(|f| f.tags.iter().any(|t| t.starts_with(tag))),
            "no {tag} frame in 40"
        );
    }
}

#[test]
fn the_qr_inside_is_the_truth_payload() {
    // A plain rqrr pass (no preprocessing) must read some frames, and never read anything but the truth.
    let frames: Vec<CorpusFrame> = corpus::generate(11, 30).collect();
    let mut read = 0;
    for f in &frames {
        for text in rqrr_texts(f) {
            assert_eq!(text, f.payload, "{}", f.name);
            read += 1;
        }
    }
    eprintln!("plain rqrr read {read}/30 frames");
    assert!(read >= 5, "plain rqrr read only {read}/30 frames");
}

#[test]
fn write_dir_matches_dev_corpus_layout() {
    let dir = tempfile::tempdir().unwrap();
    corpus::write_dir(dir.path(), 5, 4).unwrap();
    let truth: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth.len(), 4);
    for (name, entry) in &truth {
        let img = image::open(dir.path().join(name)).unwrap();
        assert_eq!((img.width(), img.height()), (FRAME_W, FRAME_H));
        assert!(
            entry["payload"].is_string()
                && entry["machine_code"].is_string()
                && entry["tags"].is_array()
        );
    }
    // Writing again gives the same bytes.
    let again = tempfile::tempdir().unwrap();
    corpus::write_dir(again.path(), 5, 4).unwrap();
    for name in truth.keys().map(String::as_str).chain(["truth.json"]) {
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            std::fs::read(again.path().join(name)).unwrap()
        );
    }
}
