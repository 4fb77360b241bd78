//! quickauth-qr: see docs/architecture.md.
