//! quickauth-protocol: see docs/architecture.md.
