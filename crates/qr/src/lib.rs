//! quickauth-qr: see docs/architecture.md.

// qrlabel: label payload parser
pub mod payload;
pub use payload::{
    parse_payload, KeyKind, LabelKey, LabelPayload, PayloadError, PayloadFormat, PayloadProblem,
};

// qrdecode: frame decoder
pub mod decode;
pub use decode::decode_jpeg_luma;
pub use decode::{
    decode_image_file, decode_jpeg_to_luma, image_to_luma, rgb_to_luma, rgba_to_luma, yuyv_to_luma,
    DecodeError, Decoded, Decoder, DecoderOptions, LiveBudget, LumaFrame, IMAGE_EXTENSIONS,
};

// qrlabel: label renderer
pub mod label;

// qrlabel: seeded corpus of camera-like label frames
pub mod corpus;

// qrdecode: seeded edge-case images by category (small, tiny modules, high versions, logo, colour, ...)
pub mod categories;
