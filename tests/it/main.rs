//! Integration tests: one binary, grouped by feature. Every test talks only to 127.0.0.1 on
//! ephemeral ports and is bounded in time and count.

mod admin;
mod hostile;
mod keys_tokens;
mod limits;
mod load;
mod mock;
mod run;
mod scenarios;
