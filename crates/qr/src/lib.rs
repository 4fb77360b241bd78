//! quickauth-qr: see docs/architecture.md.

// qrlabel: label payload parser
pub mod payload;
pub use payload::{parse_payload, KeyKind, LabelKey, LabelPayload, PayloadError, PayloadFormat, PayloadProblem};
