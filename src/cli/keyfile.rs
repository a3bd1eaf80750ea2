//! Reading a key file for a command (`keys`, `token`, `probe`): the PFX password from the
//! environment, and a key error turned into a runtime error with the most useful hint.

use camino::Utf8Path;

use super::CliError;
use jwtprobe::keys::{self, KeyBundle, KeyError};

/// The environment variable that holds a PFX password unless `--password-env` names another.
pub(crate) const DEFAULT_PASSWORD_ENV: &str = "JWTPROBE_PFX_PASSWORD";

/// Reads a key file, taking a PFX password from the environment variable `password_env`.
///
/// Without the variable, a PFX is tried with the empty password. Errors name the file and say
/// which variable to set.
pub(crate) fn read_key(path: &Utf8Path, password_env: &str) -> Result<KeyBundle, CliError> {
    let password = std::env::var(password_env).ok();
    keys::read_key_file(path, password.as_deref())
        .map_err(|e| key_error(e, password_env, password.is_some()))
}

/// Turns a [`KeyError`] into a runtime error with the most useful hint.
pub(crate) fn key_error(error: KeyError, password_env: &str, password_set: bool) -> CliError {
    let pfx_problem = matches!(
        &error,
        KeyError::Load {
            cause: keys::KeyFormatError::PfxMac { .. } | keys::KeyFormatError::Pfx(_),
            ..
        }
    );
    let hint = if pfx_problem && password_set {
        Some(format!(
            "check the password in `{password_env}`; a damaged file gives the same error, so \
             export the PFX again if the password is right"
        ))
    } else if pfx_problem {
        Some(format!(
            "`{password_env}` is not set and the empty password did not open the file: set \
             `{password_env}` to the PFX password (or name another variable with --password-env)"
        ))
    } else {
        error.hint().map(str::to_owned)
    };
    let err = CliError::runtime(error);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}
