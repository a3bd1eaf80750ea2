//! Token verification for the emulator: one [`VerifyPolicy`] per virtual proxy, built once at
//! start from the certificate parsed once, and checked through `token::verify_with`, the same
//! code as `token inspect` and the benchmarks. The laxity switches of a virtual proxy
//! ([`Laxity`](super::config::Laxity)) relax the [`Checks`] here.

use super::config::VirtualProxyConfig;
use crate::jose::Alg;
use crate::keys::PublicKey;
use crate::token::{self, Checks, Rejection, Verified, VerifyKey, VerifyPolicy};

/// A cached verification policy.
#[derive(Debug, Clone)]
pub(crate) struct Verifier {
    policy: VerifyPolicy,
    checks: Checks,
}

impl Verifier {
    /// A policy accepting `algs`, checking signatures with `key`, and requiring the named
    /// identity claims and audience when given; the strict [`Checks`].
    pub(crate) fn new(
        algs: &[Alg],
        key: PublicKey,
        user_claim: Option<String>,
        directory_claim: Option<String>,
        audience: Option<String>,
        leeway_s: i64,
    ) -> Self {
        let algs = algs.to_vec();
        Self {
            policy: VerifyPolicy {
                algs,
                key: VerifyKey::Public(key),
                user_claim,
                directory_claim,
                audience,
                leeway_s,
            },
            checks: Checks::STRICT,
        }
    }

    /// The verifier of a virtual proxy: its algorithms, certificate, claims, audience, issuer
    /// and leeway, relaxed by its laxity switches.
    pub(crate) fn for_virtual_proxy(config: &VirtualProxyConfig) -> Self {
        let lax = &config.laxity;
        let mut algs = config.algorithms.clone();
        algs.extend(lax.extra_algorithms.iter().copied());
        let checks = Checks {
            exp_required: config.exp_required && !lax.accept_no_exp,
            time_claims_numeric: !lax.accept_malformed_exp,
            nbf: !lax.ignore_nbf,
            iat: !lax.ignore_iat,
            crit: !lax.ignore_crit,
            issuer: config.issuer.clone().filter(|_| !lax.ignore_issuer),
            exact_claim_names: !lax.case_insensitive_claims,
        };
        Self::new(
            &algs,
            config.public_key.clone(),
            Some(config.user_id_claim.clone()),
            Some(config.user_directory_claim.clone()),
            config.audience.clone().filter(|_| !lax.ignore_audience),
            config.leeway_s.saturating_add(lax.leeway_s),
        )
        .with_checks(checks)
    }

    /// The same verifier with other checks.
    pub(crate) fn with_checks(mut self, checks: Checks) -> Self {
        self.checks = checks;
        self
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch); the first reason wins.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Verified, Rejection> {
        token::verify_with(token, &self.policy, &self.checks, now)
    }

    /// Verifies `token` with another key (an embedded or fetched one, under a laxity switch).
    pub(crate) fn verify_with_key(
        &self,
        token: &str,
        key: VerifyKey,
        algs: Option<Vec<Alg>>,
        now: i64,
    ) -> Result<Verified, Rejection> {
        let mut policy = self.policy.clone();
        policy.key = key;
        if let Some(algs) = algs {
            policy.algs = algs;
        }
        token::verify_with(token, &policy, &self.checks, now)
    }
}

/// The debug reason text of a rejection: its stable code, then the explanation.
pub(crate) fn reason(r: &Rejection) -> String {
    format!("{}: {r}", r.code())
}
