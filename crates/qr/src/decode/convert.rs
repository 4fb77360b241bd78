//! Pixel-format conversions into 8-bit luma, the only thing the decoder reads (camera RGB/RGBA/YUYV and MJPEG).

use super::DecodeError;

/// ITU-R BT.601 luma of one RGB pixel, integer arithmetic (weights sum to 256).
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * r as u32 + 150 * g as u32 + 29 * b as u32 + 128) >> 8) as u8
}

/// Converts packed RGB8 (3 bytes per pixel) to luma. Extra trailing bytes are ignored; a short buffer yields
/// as many pixels as it fully contains.
pub fn rgb_to_luma(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| luma(p[0], p[1], p[2]))
        .collect()
}

/// Converts packed RGBA8 (4 bytes per pixel) to luma; alpha is ignored (camera frames are opaque).
pub fn rgba_to_luma(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .map(|p| luma(p[0], p[1], p[2]))
        .collect()
}

/// Extracts luma from packed YUYV 4:2:2 (Y0 U Y1 V per two pixels), the common UVC webcam format.
/// Y is already luma, so this is a copy of every other byte.
pub fn yuyv_to_luma(yuyv: &[u8]) -> Vec<u8> {
    yuyv.iter().step_by(2).copied().collect()
}

/// Decodes one JPEG (an MJPEG camera frame or a photo) to luma. Returns `(width, height, luma)`.
pub fn decode_jpeg_to_luma(jpeg: &[u8]) -> Result<(u32, u32, Vec<u8>), DecodeError> {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).map_err(|e| {
        DecodeError::BadImage {
            path: None,
            reason: e.to_string(),
        }
    })?;
    let luma = img.into_luma8();
    Ok((luma.width(), luma.height(), luma.into_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_weights_cover_the_range() {
        assert_eq!(
            rgb_to_luma(&[0, 0, 0, 255, 255, 255, 255, 0, 0]),
            vec![0, 255, 77]
        );
        assert_eq!(
            rgba_to_luma(&[10, 10, 10, 0, 200, 200, 200, 255]),
            vec![10, 200]
        );
        assert_eq!(yuyv_to_luma(&[1, 2, 3, 4, 5, 6, 7, 8]), vec![1, 3, 5, 7]);
        assert!(rgb_to_luma(&[1, 2]).is_empty());
    }

    #[test]
    fn garbage_jpeg_is_an_error_not_a_panic() {
        assert!(decode_jpeg_to_luma(&[0xff, 0xd8, 0xff, 0x00, 1, 2, 3]).is_err());
        assert!(decode_jpeg_to_luma(&[]).is_err());
    }
}
