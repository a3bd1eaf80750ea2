//! The conformance pack that `jwtprobe init` writes: every file of `scenarios/conformance/`
//! compiled in (`include_str!`), and the target profile (`suite.yaml`): the shipped one for
//! `rfc6750`, one of `src/embedded/init/*.yaml` for the Qlik profiles. Editing that one file
//! points the pack at another proxy (`docs/conformance.md`).

use camino::{Utf8Path, Utf8PathBuf};

/// The starter profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitProfile {
    /// A resource server following RFC 6750 (401 with `WWW-Authenticate: Bearer`).
    Rfc6750,
    /// A Qlik Sense Enterprise on Windows JWT virtual proxy.
    Qseow,
    /// A Qlik Cloud tenant's `/login/jwt-session`.
    QlikCloud,
}

macro_rules! file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../scenarios/conformance/", $name)),
        )
    };
}

/// Every file of the pack but its profile: (path in the pack, text).
pub const PACK: &[(&str, &str)] = &[
    file!("00-valid-token.yaml"),
    file!("alg-none.yaml"),
    file!("alg-pinning.yaml"),
    file!("audience.yaml"),
    file!("claim-names-case.yaml"),
    file!("crit.yaml"),
    file!("duplicate-members.yaml"),
    file!("ecdsa-zero.yaml"),
    file!("embedded-key.yaml"),
    file!("exp-required.yaml"),
    file!("expired.yaml"),
    file!("iat-future.yaml"),
    file!("identity-required.yaml"),
    file!("issuer.yaml"),
    file!("jws-json.yaml"),
    file!("key-confusion.yaml"),
    file!("key-url.yaml"),
    file!("kid.yaml"),
    file!("leeway.yaml"),
    file!("malformed-exp.yaml"),
    file!("nbf-future.yaml"),
    file!("oversize-token.yaml"),
    file!("payload-tampered.yaml"),
    file!("prefix-case.yaml"),
    file!("query-token.yaml"),
    file!("signature-required.yaml"),
    file!("keys/README.md"),
    file!("keys/attacker.cert.pem"),
    file!("keys/attacker.jwks.json"),
    file!("keys/attacker.key.pem"),
    file!("keys/target.cert.pem"),
    file!("keys/target.key.pem"),
];

/// The profile (`suite.yaml`) a starter suite gets.
#[must_use]
pub fn profile_text(profile: InitProfile) -> &'static str {
    match profile {
        InitProfile::Rfc6750 => include_str!("../../scenarios/conformance/suite.yaml"),
        InitProfile::Qseow => include_str!("init/qseow.yaml"),
        InitProfile::QlikCloud => include_str!("init/qlik-cloud.yaml"),
    }
}

/// An error writing the pack.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The folder exists and holds files: init never overwrites.
    #[error("`{dir}` exists and is not empty")]
    NotEmpty {
        /// The folder.
        dir: Utf8PathBuf,
    },
    /// A folder could not be created.
    #[error("failed to create `{path}`")]
    CreateDir {
        /// The folder.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("failed to write `{path}`")]
    Write {
        /// The file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Writes the pack and the profile into `dir`; returns the files written.
///
/// # Errors
/// [`PackError::NotEmpty`] when the folder holds files; the others when a folder or file
/// cannot be written.
pub fn write_pack(dir: &Utf8Path, profile: InitProfile) -> Result<Vec<Utf8PathBuf>, PackError> {
    if dir.exists()
        && fs_err::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(PackError::NotEmpty {
            dir: dir.to_owned(),
        });
    }
    let mut written = Vec::new();
    let files = PACK
        .iter()
        .copied()
        .chain(std::iter::once(("suite.yaml", profile_text(profile))));
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|source| PackError::CreateDir {
                path: parent.to_owned(),
                source,
            })?;
        }
        fs_err::write(&path, text).map_err(|source| PackError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pack_is_every_file_of_scenarios_conformance() {
        let root = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/conformance");
        let mut on_disk = Vec::new();
        for dir in [root.clone(), root.join("keys")] {
            for entry in fs_err::read_dir(&dir).expect("pack folder") {
                let path = Utf8PathBuf::from_path_buf(entry.expect("entry").path()).expect("utf-8");
                if path.is_file() {
                    on_disk.push(path.strip_prefix(&root).expect("below").to_string());
                }
            }
        }
        on_disk.retain(|p| p != "suite.yaml");
        on_disk.sort();
        let mut embedded: Vec<String> = PACK.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "add new pack files to `PACK` in src/embedded/pack.rs"
        );
    }

    #[test]
    fn init_refuses_a_folder_that_is_not_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
        fs_err::write(dir.join("x"), "").expect("write");
        let err = write_pack(dir, InitProfile::Qseow).unwrap_err();
        assert!(err.to_string().contains("is not empty"), "{err}");
    }
}
