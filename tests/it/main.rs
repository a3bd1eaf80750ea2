//! Integration tests: one binary, grouped by feature. Every test talks only to 127.0.0.1 on
//! ephemeral ports and is bounded in time and count.

mod admin;
mod cli_help;
mod conformance;
mod hostile;
mod keys_tokens;
mod layers;
mod limits;
mod load;
mod mock;
mod probe;
mod readme;
mod reports;
mod run;
mod scenarios;
mod shipping;
