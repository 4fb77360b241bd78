//! quickauth-vault: see docs/architecture.md.
