//! What the user reads at the end of a run: text tables, JSON, and inside GitHub Actions the
//! step summary and outputs. Pure functions of the reports.

pub mod build;
pub mod publish;
pub mod stats;
pub mod verify;
