//! quickauth-sandbox: see docs/architecture.md.
