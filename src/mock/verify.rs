//! Token verification for the emulator: one [`VerifyPolicy`] per virtual proxy, built once at
//! start from the certificate parsed once, and checked through `token::verify`, the same code
//! as `token inspect` and the benchmarks.

use crate::keys::{PublicKey, SignatureAlg};
use crate::token::{self, Alg, Rejection, Verified, VerifyKey, VerifyPolicy};

/// A cached verification policy.
#[derive(Debug, Clone)]
pub(crate) struct Verifier {
    policy: VerifyPolicy,
}

impl Verifier {
    /// A policy accepting `algs`, checking signatures with `key`, and requiring the named
    /// identity claims and audience when given.
    pub(crate) fn new(
        algs: &[SignatureAlg],
        key: PublicKey,
        user_claim: Option<String>,
        directory_claim: Option<String>,
        audience: Option<String>,
        leeway_s: i64,
    ) -> Self {
        let algs = algs
            .iter()
            .filter_map(|a| Alg::from_name(a.name()))
            .collect();
        Self {
            policy: VerifyPolicy {
                algs,
                key: VerifyKey::Public(key),
                user_claim,
                directory_claim,
                audience,
                leeway_s,
            },
        }
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch); the first reason wins.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Verified, Rejection> {
        token::verify(token, &self.policy, now)
    }
}

/// The debug reason text of a rejection: its stable code, then the explanation.
pub(crate) fn reason(r: &Rejection) -> String {
    format!("{}: {r}", r.code())
}
