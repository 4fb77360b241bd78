//! quickauth-core: see docs/architecture.md.
