//! Fault injection and the reliability report for the token lifecycle (see docs/reliability.md).
