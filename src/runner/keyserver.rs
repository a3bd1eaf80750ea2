//! The loopback key server of the conformance pack: it serves an attacker's JWK Set at
//! `/jwks.json` and certificate at `/cert.pem` on `127.0.0.1:0`, for tokens whose `jku` or
//! `x5u` point at it, and counts every request, so the report can say whether the target
//! fetched a key a token named (RFC 8725 §3.10: it must not).
//!
//! It answers each connection once (`Connection: close`), reads at most 8 KiB of request,
//! waits at most 2 s for it, and stops when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// What the key server serves.
#[derive(Debug, Clone, Default)]
pub struct KeyServerContent {
    /// The JWK Set served at `/jwks.json` (an empty set when none was configured).
    pub jwks: String,
    /// The PEM certificate served at `/cert.pem`.
    pub certificate: String,
}

/// A running key server; stops when dropped.
#[derive(Debug)]
pub struct KeyServer {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    fetches: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl KeyServer {
    /// Starts a key server on `127.0.0.1:0`.
    ///
    /// # Errors
    /// The I/O error when the port cannot be bound.
    pub async fn start(content: KeyServerContent) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let fetches = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&fetches);
        let content = Arc::new(content);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                let content = Arc::clone(&content);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut len = 0;
                    let read = tokio::time::timeout(Duration::from_secs(2), async {
                        while len < buf.len() {
                            match stream.read(&mut buf[len..]).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => len += n,
                            }
                            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                    })
                    .await;
                    if read.is_err() || len == 0 {
                        return;
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    let line = String::from_utf8_lossy(&buf[..len]);
                    let path = line.split_whitespace().nth(1).unwrap_or("/");
                    let (status, kind, body) = if path.ends_with(".json") {
                        ("200 OK", "application/json", content.jwks.as_str())
                    } else if path.ends_with(".pem") {
                        (
                            "200 OK",
                            "application/x-pem-file",
                            content.certificate.as_str(),
                        )
                    } else {
                        ("404 Not Found", "text/plain", "not found")
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self { url, fetches, task })
    }

    /// Requests received so far.
    #[must_use]
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_server_serves_and_counts_fetches() {
        let server = KeyServer::start(KeyServerContent {
            jwks: "{\"keys\":[]}".to_owned(),
            certificate: "-----BEGIN CERTIFICATE-----".to_owned(),
        })
        .await
        .unwrap();
        assert_eq!(server.fetches(), 0);
        let body = reqwest::get(format!("{}/jwks.json", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "{\"keys\":[]}");
        let missing = reqwest::get(format!("{}/other", server.url)).await.unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(server.fetches(), 2);
    }
}
