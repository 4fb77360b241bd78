//! Fault injection and the reliability report for the token lifecycle (see docs/reliability.md).
//!
//! - [`endpoints`]: real-socket loopback fault servers (refused, connect timeout, read timeout, self-signed TLS).
//! - [`faults`]: the fault taxonomy, the specific answer each must produce, and how an error is reduced to a tag.
//! - [`fleet`]: sandbox printers authorized into one data dir, and probes of keyring, DB and server state.
//! - [`episode`]: one fault against one operation, in this process or in a child, with every check.
//! - [`child`]: the child-process side (`qa-reliability child ...`).
//! - [`delivery`]: the webhook delivery fault matrix (issue 9).
//! - [`run`] + [`report`]: the reliability run and docs/reliability.md.

pub mod child;
pub mod counter;
pub mod delivery;
pub mod endpoints;
pub mod episode;
pub mod faults;
pub mod fleet;
pub mod report;
pub mod run;

pub use episode::{ChildEnv, EpisodeRecord};
pub use faults::{FaultKind, Observed, Op};
pub use fleet::{Device, Fleet, FleetOptions, Snapshot};
pub use run::{RunConfig, RunOutcome};
