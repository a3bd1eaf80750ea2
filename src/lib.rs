//! jwtprobe tests JWT authentication at a reverse proxy, end to end and under load.
//!
//! The first target is the Qlik Sense Enterprise on Windows virtual proxy with JWT
//! authentication; Qlik Cloud's `/login/jwt-session` is the second profile. The module map,
//! import rules and exit codes are in `DESIGN.md`; `docs/internals.md` lists the interfaces
//! between modules. The command line (`cli`) is private to the binary (`src/main.rs`), so no
//! module of the library can import it.

pub mod check;
pub mod client;
pub mod diag;
pub mod embedded;
#[doc(hidden)]
pub mod fuzzing;
pub mod jose;
pub mod keys;
pub mod load;
pub mod mock;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod settings;
pub mod token;
