//! TLS for the lean HTTP/1.1 client: one rustls client configuration per load run.
//!
//! [`LeanTls::new`] resolves the client's TLS settings once, the way [`crate::client::Client`]
//! does for `run`: the platform's root certificates plus `--ca`, or no verification at all with
//! `--insecure` (and for the built-in emulator, whose certificate is generated at start). ALPN
//! offers `http/1.1` only, so a server that speaks HTTP/2 too answers in HTTP/1.1; sessions are
//! resumed from rustls's in-memory cache when connections are opened again.

use std::sync::Arc;

use camino::Utf8PathBuf;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::client::ClientSettings;

/// An error preparing TLS for the lean client.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read.
    #[error("failed to read the CA file `{path}`")]
    ReadCa {
        /// The file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("no CA certificate could be used from `{path}`")]
    BadCa {
        /// The file.
        path: Utf8PathBuf,
    },
    /// rustls refused the configuration.
    #[error("failed to configure TLS")]
    Config(#[source] rustls::Error),
}

/// The lean client's TLS configuration (cheap to clone).
#[derive(Clone)]
pub struct LeanTls {
    connector: TlsConnector,
}

impl std::fmt::Debug for LeanTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeanTls").finish_non_exhaustive()
    }
}

impl LeanTls {
    /// Resolves `settings` (`insecure`, `ca_file`) into a rustls client configuration.
    pub fn new(settings: &ClientSettings) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let mut config = if settings.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots(settings)?)
                .with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The connector for new connections.
    pub(crate) fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

/// The platform's roots plus the CA file, as the run client trusts them.
fn roots(settings: &ClientSettings) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    // Unreadable platform certificates are skipped, as reqwest's platform verifier does.
    let native = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(native.certs);
    if let Some(path) = &settings.ca_file {
        let pem = fs_err::read(path).map_err(|source| TlsError::ReadCa {
            path: path.clone(),
            source,
        })?;
        let certs: Vec<CertificateDer<'static>> =
            rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
                .filter_map(Result::ok)
                .collect();
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsError::BadCa { path: path.clone() });
        }
    }
    Ok(store)
}

/// The server name to verify and send (SNI) for `host`.
pub(crate) fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).ok()
}

/// `--insecure`: any certificate is accepted, but the handshake's signatures are still checked
/// (a broken server is still a TLS error).
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
