//! Helpers shared by the decoder's integration tests.

/// Asserts that `pass` (`Decoder::last_pass`: `region * 100 + step` for a crop, 900 on for the
/// whole-frame scans) is a crop of a contrast-map region after the first two, on one of its cheap steps
/// (0-2: fit, plain, inverted).
pub fn assert_later_regions_cheap_step(pass: usize, name: &str) {
    assert!(
        (200..900).contains(&pass) && pass % 100 < 3,
        "{name}: pass {pass}, not a later region's cheap step"
    );
}
