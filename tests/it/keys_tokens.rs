//! Keys and tokens: every key format loads, errors name the file, generated keys work end to
//! end, and tokens minted from loaded keys verify.

use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::jose::Alg;
use jwtprobe::keys::{
    KeyBundle, KeyError, KeyFormatError, KeyKind, generate, read_key_file, read_pfx, write_bundle,
};
use jwtprobe::token::{self, Signer, TokenSpec, VerifyKey, VerifyPolicy};
use serde_json::{Map, Value, json};

const PASSWORD: &str = "test-password";

fn path(name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/keys")
        .join(name)
}

fn load(name: &str) -> KeyBundle {
    read_key_file(&path(name), None).unwrap_or_else(|e| panic!("{name} loads: {e:?}"))
}

fn signing_public() -> jwtprobe::keys::PublicKey {
    load("qlik-signing.cert.pem")
        .public
        .expect("certificate public key")
}

fn claims() -> Map<String, Value> {
    match json!({"UserId": "alice", "UserDirectory": "QLIK"}) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Signs with the bundle's private key and checks with the signing certificate.
fn signs_like_the_signing_key(bundle: &KeyBundle) -> bool {
    let key = bundle.private.clone().expect("private key");
    let sig = key.sign(Alg::RS256, b"message").expect("sign");
    signing_public().verify(Alg::RS256, b"message", &sig)
}

#[test]
fn pkcs8_pem_private_key_loads_with_its_public_key() {
    let bundle = load("qlik-signing.key.pem");
    assert_eq!(
        bundle.private.as_ref().map(|k| k.kind()),
        Some(KeyKind::Rsa { bits: 2048 })
    );
    assert_eq!(bundle.public.as_ref(), Some(&signing_public()));
    assert!(bundle.certificate.is_none());
    assert!(signs_like_the_signing_key(&bundle));
}

#[test]
fn pkcs1_pem_private_key_is_the_same_key() {
    let bundle = load("rsa-pkcs1.key.pem");
    assert!(signs_like_the_signing_key(&bundle));
}

#[test]
fn der_private_key_and_certificate_load() {
    assert!(signs_like_the_signing_key(&load("qlik-signing.key.der")));
    let cert = load("qlik-signing.cert.der");
    assert_eq!(cert.public.as_ref(), Some(&signing_public()));
    assert_eq!(
        cert.certificate.map(|c| c.subject().to_owned()).as_deref(),
        Some("CN=jwtprobe-test")
    );
}

#[test]
fn spki_pem_and_jwk_public_keys_load() {
    assert_eq!(load("qlik-signing.pub.pem").public, Some(signing_public()));
    let jwk = load("qlik-signing.jwk.json");
    assert_eq!(jwk.public, Some(signing_public()));
    assert!(jwk.private.is_none());
}

#[test]
fn private_rsa_jwk_is_the_signing_key() {
    let bundle = load("qlik-signing.private.jwk.json");
    assert_eq!(bundle.public, Some(signing_public()));
    assert!(signs_like_the_signing_key(&bundle));
}

#[test]
fn symmetric_jwk_loads_as_an_hmac_secret() {
    let bundle = load("hmac.jwk.json");
    let secret = bundle.secret.expect("secret");
    assert_eq!(secret.expose(), b"jwtprobe-test-hmac-secret-0123456789");
    assert!(!format!("{secret:?}").contains("jwtprobe-test-hmac"));
}

#[test]
fn key_and_certificate_in_one_pem_file_both_load() {
    let bundle = load("qlik-signing.bundle.pem");
    assert!(bundle.certificate.is_some());
    assert!(signs_like_the_signing_key(&bundle));
}

#[test]
fn ec_and_ed25519_keys_load_in_every_form() {
    let ec = load("ec256.key.pem");
    assert_eq!(ec.private.as_ref().map(|k| k.kind()), Some(KeyKind::EcP256));
    let sec1 = load("ec256-sec1.key.pem");
    assert_eq!(sec1.public, ec.public);
    assert_eq!(load("ec256.pub.pem").public, ec.public);
    assert_eq!(
        load("ec384.key.pem").private.map(|k| k.kind()),
        Some(KeyKind::EcP384)
    );
    let ed = load("ed25519.key.pem");
    assert_eq!(
        ed.private.as_ref().map(|k| k.kind()),
        Some(KeyKind::Ed25519)
    );
    assert_eq!(load("ed25519.pub.pem").public, ed.public);
}

#[test]
fn every_pfx_variant_loads_with_its_password() {
    for name in [
        "qlik-client.pfx",
        "qlik-client-3des.pfx",
        "qlik-client-legacy.pfx",
    ] {
        let bundle = read_key_file(&path(name), Some(PASSWORD))
            .unwrap_or_else(|e| panic!("{name} loads: {e:?}"));
        assert!(signs_like_the_signing_key(&bundle), "{name}");
        let cert = bundle.certificate.expect("certificate in the PFX");
        assert_eq!(cert.subject(), "CN=jwtprobe-test", "{name}");
        assert_eq!(bundle.public, Some(signing_public()), "{name}");
    }
    assert!(read_pfx(&path("qlik-client.pfx"), Some(PASSWORD)).is_ok());
}

#[test]
fn pfx_with_wrong_password_names_file_and_hint() {
    let file = path("qlik-client.pfx");
    let err = read_key_file(&file, Some("wrong")).expect_err("wrong password");
    assert!(err.is_wrong_password());
    assert_eq!(err.to_string(), format!("failed to load key `{file}`"));
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("PKCS#12 MAC verification failed"));
    assert_eq!(err.hint(), Some("check the PFX password"));
    let missing = read_key_file(&file, None).expect_err("no password");
    assert!(matches!(
        missing,
        KeyError::Load {
            cause: KeyFormatError::PfxMac {
                password_given: false
            },
            ..
        }
    ));
}

fn write_temp(dir: &Utf8Path, name: &str, contents: &[u8]) -> Utf8PathBuf {
    let file = dir.join(name);
    fs_err::write(&file, contents).expect("write temp file");
    file
}

fn temp_dir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let utf8 = Utf8PathBuf::try_from(dir.path().to_path_buf()).expect("utf-8 temp dir");
    (dir, utf8)
}

#[test]
fn garbage_file_is_an_unknown_format_naming_the_file() {
    let (_guard, dir) = temp_dir();
    for (name, contents) in [
        ("garbage.bin", &b"\x01\x02not a key at all"[..]),
        ("notes.txt", b"hello, this is text"),
        ("garbage.der", b"\x30\x03\x02\x01\x01"),
    ] {
        let file = write_temp(&dir, name, contents);
        let err = read_key_file(&file, None).expect_err("garbage");
        assert!(err.to_string().contains(file.as_str()), "{err}");
        let KeyError::Load { cause, .. } = &err else {
            panic!("expected a load error, got {err:?}");
        };
        assert_eq!(*cause, KeyFormatError::UnknownFormat);
        assert_eq!(cause.to_string(), "expected a PEM, DER, PFX or JWK key");
    }
}

#[test]
fn missing_file_is_a_read_error_naming_the_file() {
    let file = path("does-not-exist.pem");
    let err = read_key_file(&file, None).expect_err("missing");
    assert!(matches!(err, KeyError::Read { .. }));
    assert!(err.to_string().contains("does-not-exist.pem"));
}

#[test]
fn encrypted_pem_is_refused_with_a_hint() {
    let (_guard, dir) = temp_dir();
    let file = write_temp(
        &dir,
        "enc.pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let err = read_key_file(&file, None).expect_err("encrypted");
    assert!(matches!(
        err,
        KeyError::Load {
            cause: KeyFormatError::EncryptedPem,
            ..
        }
    ));
    assert!(err.hint().is_some_and(|h| h.contains("openssl")));
}

#[test]
fn thumbprints_match_openssl_fingerprints() {
    // From `openssl x509 -fingerprint` (fixtures/keys/README.md).
    let cert = load("qlik-signing.cert.pem")
        .certificate
        .expect("certificate");
    assert_eq!(
        cert.sha1_thumbprint(),
        "2F71991B0FB56E0A4E3A36648C9EEFDC25EA21FB"
    );
    assert_eq!(
        cert.sha256_thumbprint(),
        "7073903C826304BDBCAD46752847EAF138A746782F88F5F4CC1DA7B52A9BF59E"
    );
    assert!(cert.not_after() - cert.not_before() > 99 * 365 * 86_400);
}

#[test]
fn private_key_debug_never_shows_key_material() {
    let bundle = load("qlik-signing.key.pem");
    let key = bundle.private.clone().expect("private key");
    let pkcs8 = key.to_pkcs8_pem().expect("pem");
    let body_line = pkcs8.lines().nth(1).expect("base64 line");
    for shown in [format!("{key:?}"), format!("{bundle:?}")] {
        assert!(!shown.contains(body_line), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}

#[test]
fn pkcs8_pem_output_reads_back_as_the_same_key() {
    let (_guard, dir) = temp_dir();
    let key = load("rsa-pkcs1.key.pem").private.expect("key");
    let pem = key.to_pkcs8_pem().expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let file = write_temp(&dir, "back.pem", pem.as_bytes());
    assert!(signs_like_the_signing_key(
        &read_key_file(&file, None).expect("reads back")
    ));
}

#[test]
fn generated_keys_sign_tokens_that_their_certificate_verifies() {
    for (kind, alg) in [
        (KeyKind::Rsa { bits: 2048 }, Alg::RS256),
        (KeyKind::EcP256, Alg::ES256),
        (KeyKind::EcP384, Alg::ES384),
        (KeyKind::Ed25519, Alg::EdDSA),
    ] {
        let (key, cert) = generate(kind, "jwtprobe-generated", 30).expect("generate");
        assert_eq!(key.kind(), kind);
        assert_eq!(cert.subject(), "CN=jwtprobe-generated");
        assert_eq!(cert.public_key(), key.public_key());
        let days = (cert.not_after() - cert.not_before()) / 86_400;
        assert_eq!(days, 30, "{kind}");
        let token = token::mint(&TokenSpec::new(claims(), alg, Signer::Key(key))).expect("mint");
        let policy = VerifyPolicy {
            algs: vec![alg],
            key: VerifyKey::Public(cert.public_key().clone()),
            user_claim: Some("UserId".to_owned()),
            directory_claim: Some("UserDirectory".to_owned()),
            audience: None,
            leeway_s: 0,
        };
        let verified = token::verify(token.expose(), &policy, 0).expect("verifies");
        assert_eq!(verified.user_id.as_deref(), Some("alice"));
    }
}

#[test]
fn unsupported_rsa_size_is_refused() {
    assert!(matches!(
        generate(KeyKind::Rsa { bits: 1000 }, "x", 1),
        Err(KeyError::Generate { .. })
    ));
}

#[test]
fn written_bundle_reads_back_and_keeps_the_private_key_private() {
    let (_guard, dir) = temp_dir();
    let (key, cert) = generate(KeyKind::EcP256, "jwtprobe-generated", 365).expect("generate");
    let bundle = KeyBundle {
        public: Some(key.public_key().clone()),
        private: Some(key.clone()),
        certificate: Some(cert.clone()),
        secret: None,
        source: Utf8PathBuf::from("QlikClient.pfx"),
    };
    let written = write_bundle(&bundle, &dir).expect("write");
    let private = written.private.expect("private file");
    assert_eq!(private, dir.join("QlikClient.key.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs_err::metadata(&private)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let back = read_key_file(&private, None).expect("private reads back");
    assert_eq!(back.public.as_ref(), Some(key.public_key()));
    let cert_back = read_key_file(&written.certificate.expect("cert file"), None).expect("cert");
    assert_eq!(
        cert_back.certificate.map(|c| c.sha1_thumbprint()),
        Some(cert.sha1_thumbprint())
    );
    let pub_back = read_key_file(&written.public.expect("public file"), None).expect("public");
    assert_eq!(pub_back.public.as_ref(), Some(key.public_key()));
    // Never overwrites.
    let again = write_bundle(&bundle, &dir).expect_err("files exist");
    assert!(again.hint().is_some());
}

#[test]
fn pfx_key_mints_a_token_the_certificate_verifies() {
    let bundle = read_key_file(&path("qlik-client.pfx"), Some(PASSWORD)).expect("pfx");
    let minter =
        token::Minter::new(Alg::RS256, &Signer::Key(bundle.private.expect("key"))).expect("minter");
    let token = minter.mint(&claims()).expect("mint");
    let policy = VerifyPolicy {
        algs: vec![Alg::RS256],
        key: VerifyKey::Public(signing_public()),
        user_claim: Some("UserId".to_owned()),
        directory_claim: Some("UserDirectory".to_owned()),
        audience: None,
        leeway_s: 0,
    };
    assert!(token::verify(token.expose(), &policy, 0).is_ok());
}

#[test]
fn every_rsa_algorithm_verifies_its_own_signature_and_no_other() {
    // RSA verification hashes the message itself and checks the digest: a signature made
    // with one hash or padding must not pass as another, and a changed message must fail.
    let key = load("qlik-signing.key.pem").private.expect("private key");
    let public = signing_public();
    let algs = key.kind().algorithms();
    assert_eq!(algs.len(), 6, "RS256/384/512 and PS256/384/512");
    for &signed in algs {
        let sig = key.sign(signed, b"message").expect("sign");
        assert!(public.verify(signed, b"message", &sig), "{signed:?}");
        assert!(
            !public.verify(signed, b"messagf", &sig),
            "{signed:?} tampered"
        );
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        assert!(
            !public.verify(signed, b"message", &flipped),
            "{signed:?} bit flip"
        );
        for claimed in algs.iter().filter(|a| **a != signed) {
            assert!(
                !public.verify(*claimed, b"message", &sig),
                "{signed:?} signature passed as {claimed:?}"
            );
        }
    }
}
