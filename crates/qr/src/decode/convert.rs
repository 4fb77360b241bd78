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
    load_luma(jpeg, Some(image::ImageFormat::Jpeg))
}

/// Decodes an image file's bytes (PNG, JPEG) to luma: `(width, height, luma)`. What `decode_image_file`, the
/// app's pasted images and the corpus bench read.
/// - A JPEG's own luma channel is taken as it is (no chroma upsampling, no colour conversion and back).
/// - A transparent image is laid on white, as a viewer shows it: a code drawn in dark ink on a transparent
///   background (common for generated codes) would otherwise be dark on (transparent) black.
pub fn image_to_luma(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), DecodeError> {
    load_luma(bytes, None)
}

/// [`jpeg_luma`], else the `image` crate (only `format` when given, any format it knows otherwise) and
/// [`dynamic_to_luma`].
fn load_luma(
    bytes: &[u8],
    format: Option<image::ImageFormat>,
) -> Result<(u32, u32, Vec<u8>), DecodeError> {
    if let Some(luma) = jpeg_luma(bytes) {
        return Ok(luma);
    }
    let img = match format {
        Some(format) => image::load_from_memory_with_format(bytes, format),
        None => image::load_from_memory(bytes),
    }
    .map_err(|e| DecodeError::BadImage {
        path: None,
        reason: e.to_string(),
    })?;
    Ok(dynamic_to_luma(img))
}

/// A baseline or progressive YCbCr or greyscale JPEG's luma channel, straight from the decoder. `None` for
/// anything else (not a JPEG, CMYK or Adobe RGB, a decoder error): the caller falls back to the `image` crate,
/// which reports the error if there is one.
fn jpeg_luma(bytes: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().ok()?;
    if !matches!(
        decoder.input_colorspace()?,
        ColorSpace::YCbCr | ColorSpace::Luma
    ) {
        return None;
    }
    let (w, h) = decoder.dimensions()?;
    let luma = decoder.decode().ok()?;
    (luma.len() == w * h).then_some((w as u32, h as u32, luma))
}

/// Any decoded image to luma: integer BT.601 weights (as the camera paths use), alpha laid on white.
fn dynamic_to_luma(img: image::DynamicImage) -> (u32, u32, Vec<u8>) {
    use image::DynamicImage;
    let (w, h) = (img.width(), img.height());
    let luma = match img {
        DynamicImage::ImageLuma8(l) => l.into_raw(),
        DynamicImage::ImageRgb8(rgb) => rgb_to_luma(rgb.as_raw()),
        DynamicImage::ImageLumaA8(la) => la
            .as_raw()
            .chunks_exact(2)
            .map(|p| on_white(p[0], p[1]))
            .collect(),
        DynamicImage::ImageRgba8(rgba) => rgba_on_white(rgba.as_raw()),
        // 16-bit and float images: through the image crate's 8-bit RGBA.
        other => rgba_on_white(other.to_rgba8().as_raw()),
    };
    (w, h, luma)
}

/// A grey level with opacity `a` over white.
#[inline]
fn on_white(v: u8, a: u8) -> u8 {
    ((v as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8
}

/// RGBA8 to luma, laid on white.
fn rgba_on_white(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .map(|p| on_white(luma(p[0], p[1], p[2]), p[3]))
        .collect()
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
    fn transparent_pixels_read_as_white_and_opaque_ones_as_they_are() {
        assert_eq!(on_white(0, 0), 255);
        assert_eq!(on_white(0, 255), 0);
        assert_eq!(on_white(200, 255), 200);
        assert_eq!(on_white(0, 128), 127);
        assert_eq!(
            rgba_on_white(&[0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 255]),
            vec![255, 0, 77]
        );
    }

    fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn every_pixel_format_loads_to_the_same_grey() {
        use image::{DynamicImage, GrayAlphaImage, GrayImage, ImageFormat, RgbImage, RgbaImage};
        // A dark square on light grey, in each layout a PNG can hold.
        let grey = |x: u32, y: u32| {
            if (4..12).contains(&x) && (4..12).contains(&y) {
                20u8
            } else {
                230
            }
        };
        let want: Vec<u8> = (0..16 * 16).map(|i| grey(i % 16, i / 16)).collect();
        let images = [
            DynamicImage::ImageLuma8(GrayImage::from_fn(16, 16, |x, y| image::Luma([grey(x, y)]))),
            DynamicImage::ImageRgb8(RgbImage::from_fn(16, 16, |x, y| {
                image::Rgb([grey(x, y); 3])
            })),
            DynamicImage::ImageRgba8(RgbaImage::from_fn(16, 16, |x, y| {
                let v = grey(x, y);
                image::Rgba([v, v, v, 255])
            })),
            DynamicImage::ImageLumaA8(GrayAlphaImage::from_fn(16, 16, |x, y| {
                image::LumaA([grey(x, y), 255])
            })),
            DynamicImage::ImageRgb16(
                DynamicImage::ImageRgb8(RgbImage::from_fn(16, 16, |x, y| {
                    image::Rgb([grey(x, y); 3])
                }))
                .to_rgb16(),
            ),
        ];
        for img in images {
            let kind = format!("{:?}", img.color());
            let (w, h, luma) = image_to_luma(&encode(img, ImageFormat::Png)).unwrap();
            assert_eq!((w, h), (16, 16), "{kind}");
            assert_eq!(luma, want, "{kind}");
        }
        // A transparent background with black behind it (what many generators write) is white.
        let ink = RgbaImage::from_fn(16, 16, |x, y| {
            image::Rgba([0, 0, 0, if grey(x, y) < 128 { 255 } else { 0 }])
        });
        let (_, _, luma) =
            image_to_luma(&encode(DynamicImage::ImageRgba8(ink), ImageFormat::Png)).unwrap();
        assert_eq!(
            luma,
            want.iter()
                .map(|&v| if v < 128 { 0 } else { 255 })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_jpeg_loads_its_own_luma_channel() {
        use image::{DynamicImage, ImageFormat, RgbImage};
        // Colour: the luma channel, against the BT.601 grey of the same pixels (JPEG is lossy: near).
        let rgb = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
        });
        let want = rgb_to_luma(rgb.as_raw());
        let jpeg = encode(DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg);
        assert!(
            jpeg_luma(&jpeg).is_some(),
            "the JPEG path, not the fallback"
        );
        let (w, h, luma) = image_to_luma(&jpeg).unwrap();
        assert_eq!((w, h), (64, 48));
        let worst = luma
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max();
        assert!(worst.unwrap() <= 6, "luma off by {worst:?}");
        assert_eq!(decode_jpeg_to_luma(&jpeg).unwrap().2, luma);
    }

    #[test]
    fn garbage_jpeg_is_an_error_not_a_panic() {
        assert!(decode_jpeg_to_luma(&[0xff, 0xd8, 0xff, 0x00, 1, 2, 3]).is_err());
        assert!(decode_jpeg_to_luma(&[]).is_err());
        assert!(image_to_luma(&[0xff, 0xd8, 0xff, 0x00, 1, 2, 3]).is_err());
        assert!(image_to_luma(b"not an image").is_err());
    }
}
