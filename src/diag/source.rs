//! Reading a file the user named, within limits: the one place where input files are opened.
//!
//! [`read_text`] and [`read_bytes`] refuse what would hang or exhaust memory before reading a
//! byte of it: a FIFO, a socket or a device (`/dev/zero`, a named pipe called `x.yaml`) is
//! refused by its type, a file over the limit by its size (and the read itself stops at the
//! limit, for files whose size the file system does not know, as in `/proc`). [`read_text`]
//! also refuses text that is not UTF-8 and says where: the byte offset, line and column of
//! the first invalid byte.
//!
//! This is the only part of [`crate::diag`] that does I/O.

use std::io::Read as _;

use camino::{Utf8Path, Utf8PathBuf};

use super::Span;

/// The largest scenario, suite or config file read (4 MiB); real ones are a few KiB.
pub const MAX_SOURCE_BYTES: u64 = 4 * 1024 * 1024;

/// An error reading a file within limits.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: Utf8PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The path names a FIFO, a socket, a device or a folder, not a regular file.
    #[error("`{path}` is {kind}, not a regular file")]
    NotRegular {
        /// The file.
        path: Utf8PathBuf,
        /// What it is instead (`a FIFO`, `a character device`, …).
        kind: &'static str,
    },
    /// The file is larger than the limit.
    #[error("`{path}` is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        path: Utf8PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error(
        "`{path}` is not UTF-8 text: invalid byte at offset {} (line {}, column {})",
        span.start, span.line, span.col
    )]
    NotUtf8 {
        /// The file.
        path: Utf8PathBuf,
        /// Where the first invalid byte is (its byte offset, line and column).
        span: Span,
        /// The text with invalid bytes replaced by U+FFFD, for showing the line.
        lossy: String,
    },
}

impl SourceError {
    /// A short description for the caret line of a diagnostic (`the first byte that is not
    /// UTF-8, at offset 12`), or the whole message when there is no better place.
    pub fn label(&self) -> String {
        match self {
            Self::Io { source, .. } => source.to_string(),
            Self::NotRegular { kind, .. } => format!("this is {kind}, not a regular file"),
            Self::TooLarge { limit, .. } => {
                format!("the file is larger than the limit of {limit} bytes")
            }
            Self::NotUtf8 { span, .. } => {
                format!("not UTF-8: invalid byte at offset {}", span.start)
            }
        }
    }

    /// Where in the file the problem is: the invalid byte, or the start of the file.
    pub fn span(&self) -> Span {
        match self {
            Self::NotUtf8 { span, .. } => *span,
            _ => Span::START,
        }
    }
}

/// What a non-regular file is, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    "not a regular file"
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Utf8Path, limit: u64) -> Result<Vec<u8>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_owned(),
        source,
    };
    // Following symbolic links, as opening would; the type is checked before opening because
    // opening a FIFO blocks until a writer appears.
    let meta = fs_err::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    let file = fs_err::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Reads a regular UTF-8 text file of at most `limit` bytes.
pub fn read_text(path: &Utf8Path, limit: u64) -> Result<String, SourceError> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let bad = e.utf8_error().error_len().unwrap_or(1);
        SourceError::NotUtf8 {
            path: path.to_owned(),
            span: span_at(bytes, offset, bad),
            lossy: String::from_utf8_lossy(bytes).into_owned(),
        }
    })
}

/// The span of `len` bytes at `offset` of a text whose bytes before `offset` are UTF-8.
fn span_at(bytes: &[u8], offset: usize, len: usize) -> Span {
    let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Span {
        start: offset,
        end: offset + len,
        line: before.matches('\n').count() + 1,
        col: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(bytes: &[u8]) -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("x.yaml")).unwrap();
        fs_err::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn invalid_utf8_is_located_by_offset_line_and_column() {
        let (_dir, path) = temp(b"name: a\nsteps: \xff\n");
        let Err(SourceError::NotUtf8 { span, lossy, .. }) = read_text(&path, 100) else {
            panic!("expected a UTF-8 error");
        };
        assert_eq!((span.start, span.line, span.col), (15, 2, 8));
        assert!(lossy.contains('\u{fffd}'));
    }

    #[test]
    fn file_over_the_limit_is_refused() {
        let (_dir, path) = temp(&[b'a'; 101]);
        assert!(matches!(
            read_bytes(&path, 100),
            Err(SourceError::TooLarge { limit: 100, .. })
        ));
        assert_eq!(read_bytes(&path, 101).unwrap().len(), 101);
    }

    #[test]
    fn folder_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        let err = read_text(&path, 100).unwrap_err();
        assert!(
            err.to_string().contains("is a folder, not a regular file"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn character_device_is_refused_without_reading() {
        let err = read_bytes(Utf8Path::new("/dev/zero"), 100).unwrap_err();
        assert!(
            matches!(
                err,
                SourceError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );
    }
}
