//! Conformance verdicts: what a run of the conformance pack (`scenarios/conformance/`) says
//! about the target, property by property.
//!
//! A scenario that names a [`Property`] (`conformance:` in its YAML) is one variant of that
//! property. The runner decides before sending whether the variant applies to the target
//! (`not_applicable`: an `aud` check the target does not make, an algorithm it allows), and
//! after the steps records a [`ScenarioFinding`]: the raw outcome (held when every check
//! passed and nothing was fetched from the loopback key server, violated otherwise) with its
//! evidence (status, `WWW-Authenticate`). [`report`] folds the findings of every variant into
//! one [`PropertyVerdict`] per property: held, violated, policy (the product documents this
//! behaviour as its choice: the profile's or the suite's `policy`), not applicable, or error.
//!
//! Rendering lives in `report::conformance`; this module only decides.

use std::collections::BTreeMap;

use serde::Serialize;

use super::result::{ScenarioResult, StepStatus};
use crate::scenario::{ConformanceTarget, Property, Suite};

/// The verdict on one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every variant was refused as the property requires.
    Held,
    /// At least one variant was accepted (or made the target fetch a key).
    Violated,
    /// The product documents this behaviour as its policy; the evidence says what it did.
    Policy,
    /// The property does not apply to this target (no `aud` check configured, …).
    NotApplicable,
    /// A variant could not run (the target was unreachable, a token could not be built).
    Error,
}

impl Verdict {
    /// The word the reports use: `held`, `violated`, `policy`, `not applicable`, `error`.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Violated => "violated",
            Self::Policy => "policy",
            Self::NotApplicable => "not applicable",
            Self::Error => "error",
        }
    }
}

/// What one step showed, for the evidence of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The scenario (matrix variant) the step belongs to.
    pub scenario: String,
    /// The step.
    pub step: String,
    /// The status the target answered, if it answered.
    pub status: Option<u16>,
    /// Its `WWW-Authenticate` header, if any.
    pub www_authenticate: Option<String>,
    /// Requests the loopback key server received during the scenario.
    pub key_fetches: u64,
}

impl Evidence {
    /// One line for people: `status 200, WWW-Authenticate: Bearer …, key server fetched 1×`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = vec![match self.status {
            Some(s) => format!("status {s}"),
            None => "no response".to_owned(),
        }];
        if let Some(w) = &self.www_authenticate {
            parts.push(format!("WWW-Authenticate: {w}"));
        }
        if self.key_fetches > 0 {
            parts.push(format!("key server fetched {}×", self.key_fetches));
        }
        format!("{} ({}: {})", parts.join(", "), self.scenario, self.step)
    }
}

/// What one scenario found about its property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFinding {
    /// The property.
    pub property: Property,
    /// The outcome of this variant: held, violated, not applicable or error (never policy).
    pub outcome: Verdict,
    /// Why the variant does not apply, or what went wrong.
    pub note: Option<String>,
    /// The policy reason when the property is the product's documented policy on this target.
    pub policy: Option<String>,
    /// Evidence: the steps that showed a violation, or the first step when none did.
    pub evidence: Vec<Evidence>,
}

/// The verdict on one property, over all its variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyVerdict {
    /// The property's id (`alg-none`).
    pub id: String,
    /// What a conforming verifier does.
    pub property: String,
    /// Where the property comes from.
    pub source: String,
    /// The verdict.
    pub verdict: Verdict,
    /// For `policy`: the documented reason and what was observed; for `not applicable` and
    /// `error`: why.
    pub note: Option<String>,
    /// How many variants ran, and how many of them violated the property.
    pub variants: usize,
    /// Variants that violated the property.
    pub violations: usize,
    /// Evidence (status, headers) of the violating variants, or of the first variant.
    pub evidence: Vec<Evidence>,
}

/// The verdicts of a run, property by property, in the order the pack lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConformanceReport {
    /// One verdict per property.
    pub properties: Vec<PropertyVerdict>,
}

impl ConformanceReport {
    /// How many properties got this verdict.
    #[must_use]
    pub fn count(&self, verdict: Verdict) -> usize {
        self.properties
            .iter()
            .filter(|p| p.verdict == verdict)
            .count()
    }

    /// The verdict on the property with this id.
    #[must_use]
    pub fn verdict(&self, id: &str) -> Option<Verdict> {
        self.properties
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.verdict)
    }
}

/// Folds the findings of every conformance scenario into one verdict per property; `None`
/// when no scenario checked a property.
#[must_use]
pub fn report(scenarios: &[ScenarioResult]) -> Option<ConformanceReport> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Vec<&ScenarioFinding>> = BTreeMap::new();
    for finding in scenarios.iter().filter_map(|s| s.conformance.as_ref()) {
        let id = finding.property.id.clone();
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        by_id.entry(id).or_default().push(finding);
    }
    if order.is_empty() {
        return None;
    }
    let properties = order
        .into_iter()
        .filter_map(|id| {
            let findings = by_id.remove(&id)?;
            let first = findings.first()?;
            Some(fold(&id, first, &findings))
        })
        .collect();
    Some(ConformanceReport { properties })
}

fn fold(id: &str, first: &ScenarioFinding, findings: &[&ScenarioFinding]) -> PropertyVerdict {
    let ran: Vec<&&ScenarioFinding> = findings
        .iter()
        .filter(|f| f.outcome != Verdict::NotApplicable)
        .collect();
    let violations: Vec<&&ScenarioFinding> = ran
        .iter()
        .copied()
        .filter(|f| f.outcome == Verdict::Violated)
        .collect();
    let errors: Vec<&&ScenarioFinding> = ran
        .iter()
        .copied()
        .filter(|f| f.outcome == Verdict::Error)
        .collect();
    let raw = if !violations.is_empty() {
        Verdict::Violated
    } else if !errors.is_empty() {
        Verdict::Error
    } else if ran.is_empty() {
        Verdict::NotApplicable
    } else {
        Verdict::Held
    };
    let evidence_of = |list: &[&&ScenarioFinding]| -> Vec<Evidence> {
        list.iter().flat_map(|f| f.evidence.clone()).collect()
    };
    let (verdict, note) = match (&first.policy, raw) {
        (Some(reason), Verdict::Held | Verdict::Violated) => {
            let observed = if raw == Verdict::Violated {
                "observed: accepted"
            } else {
                "observed: refused"
            };
            (Verdict::Policy, Some(format!("{reason}; {observed}")))
        }
        (_, Verdict::NotApplicable) => (
            Verdict::NotApplicable,
            findings.iter().find_map(|f| f.note.clone()),
        ),
        (_, Verdict::Error) => (Verdict::Error, errors.iter().find_map(|f| f.note.clone())),
        (_, v) => (v, None),
    };
    let evidence = if violations.is_empty() {
        ran.first()
            .map(|f| f.evidence.iter().take(1).cloned().collect())
            .unwrap_or_default()
    } else {
        evidence_of(&violations)
    };
    PropertyVerdict {
        id: id.to_owned(),
        property: first.property.property.clone(),
        source: first.property.source.clone(),
        verdict,
        note,
        variants: ran.len(),
        violations: violations.len(),
        evidence,
    }
}

/// The raw outcome of a finished conformance scenario: violated when a check failed or the
/// key server was fetched under `no_key_fetch`, error when a step could not run, else held.
pub(crate) fn finding(
    property: &Property,
    policy: Option<String>,
    result: &ScenarioResult,
    key_fetches: u64,
) -> ScenarioFinding {
    let evidence_of = |step: &super::result::StepResult| Evidence {
        scenario: result.name.clone(),
        step: step.name.clone(),
        status: step.response.as_ref().map(|r| r.status),
        www_authenticate: step.response.as_ref().and_then(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
                .map(|(_, v)| v.clone())
        }),
        key_fetches,
    };
    let failed: Vec<Evidence> = result
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed { .. }))
        .map(evidence_of)
        .collect();
    let error = result.steps.iter().find_map(|s| match &s.status {
        StepStatus::Error(error) => Some(error.message.lines().next().unwrap_or("").to_owned()),
        _ => None,
    });
    let fetched = property.no_key_fetch && key_fetches > 0;
    let (outcome, note, evidence) = if !failed.is_empty() || fetched {
        let evidence = if failed.is_empty() {
            result.steps.iter().take(1).map(evidence_of).collect()
        } else {
            failed
        };
        (Verdict::Violated, None, evidence)
    } else if let Some(message) = error {
        (Verdict::Error, Some(message), Vec::new())
    } else {
        let evidence = result.steps.iter().take(1).map(evidence_of).collect();
        (Verdict::Held, None, evidence)
    };
    ScenarioFinding {
        property: property.clone(),
        outcome,
        note,
        policy,
        evidence,
    }
}

/// Why a variant does not apply to the target, or `None` when it does. `render` templates
/// the property's fields in the scenario's scope.
/// A property that is the product's policy (`is_policy`) always applies: the report then says
/// what the product did.
pub(crate) fn not_applicable(
    property: &Property,
    suite: &Suite,
    is_policy: bool,
    render: &dyn Fn(&str) -> String,
) -> Option<String> {
    let default = ConformanceTarget::default();
    let target = suite.conformance.as_ref().unwrap_or(&default);
    let allowed = |alg: &str| target.algorithms.iter().any(|a| a == alg);
    if let Some(setting) = &property.requires {
        let configured = match setting.as_str() {
            "audience" => target.audience.is_some(),
            "issuer" => target.issuer.is_some(),
            "exp_required" => target.exp_required,
            "prefix" => suite.prefix.as_deref().is_some_and(|p| !p.is_empty()),
            _ => true,
        };
        if !configured && !is_policy {
            return Some(format!("the target does not check `{setting}`"));
        }
    }
    if let Some(alg) = &property.unless_allowed {
        let alg = render(alg);
        if allowed(&alg) {
            return Some(format!("the target allows `{alg}`"));
        }
    }
    if let Some(alg) = &property.when_allowed {
        let alg = render(alg);
        if !allowed(&alg) {
            return Some(format!("the target does not allow `{alg}`"));
        }
    }
    None
}

/// The policy reason for a property on this suite: the suite's `conformance.policy` or the
/// profile's.
pub(crate) fn policy_reason(
    property: &Property,
    suite: &Suite,
    profile: &crate::scenario::Profile,
) -> Option<String> {
    suite
        .conformance
        .as_ref()
        .and_then(|c| c.policy.get(&property.id).cloned())
        .or_else(|| profile.policy.get(&property.id).cloned())
}

/// The variables a suite gives the pack's templates: the identity (`user_claim`,
/// `directory_claim`, `user`, `directory`, and `user_claim_recased`, `directory_claim_recased`,
/// `prefix_recased`: the same names in another case), `leeway_s`, `exp_past_leeway` (an offset one
/// second past the leeway, for `exp`), and `audience`/`issuer` when the target checks them.
pub(crate) fn builtin_vars(suite: &Suite) -> BTreeMap<String, String> {
    let id = &suite.identity;
    let mut vars = BTreeMap::from([
        ("user_claim".to_owned(), id.user_claim.clone()),
        ("directory_claim".to_owned(), id.directory_claim.clone()),
        ("user".to_owned(), id.user.clone()),
        ("directory".to_owned(), id.directory.clone()),
    ]);
    // The same name in another case: lower case, or upper case when it already is lower.
    let recased = |name: &str| {
        let lower = name.to_lowercase();
        if lower == name {
            name.to_uppercase()
        } else {
            lower
        }
    };
    vars.insert("user_claim_recased".to_owned(), recased(&id.user_claim));
    vars.insert(
        "directory_claim_recased".to_owned(),
        recased(&id.directory_claim),
    );
    if let Some(prefix) = &suite.prefix {
        vars.insert("prefix_recased".to_owned(), recased(prefix));
    }
    let target = suite.conformance.clone().unwrap_or_default();
    let leeway = target.leeway.map_or(0, |d| d.as_secs());
    vars.insert("leeway_s".to_owned(), leeway.to_string());
    vars.insert("exp_past_leeway".to_owned(), format!("-{}s", leeway + 1));
    if let Some(a) = target.audience {
        vars.insert("audience".to_owned(), a);
    }
    if let Some(i) = target.issuer {
        vars.insert("issuer".to_owned(), i);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(id: &str) -> Property {
        Property {
            id: id.to_owned(),
            property: format!("{id} holds"),
            source: "RFC 8725".to_owned(),
            ..Property::default()
        }
    }

    fn finding(id: &str, outcome: Verdict, policy: Option<&str>) -> ScenarioFinding {
        ScenarioFinding {
            property: property(id),
            outcome,
            note: None,
            policy: policy.map(str::to_owned),
            evidence: Vec::new(),
        }
    }

    fn scenario(f: ScenarioFinding) -> ScenarioResult {
        ScenarioResult {
            name: f.property.id.clone(),
            path: "x.yaml".into(),
            tags: Vec::new(),
            steps: Vec::new(),
            duration: std::time::Duration::ZERO,
            conformance: Some(f),
        }
    }

    #[test]
    fn one_violated_variant_violates_the_property() {
        let report = report(&[
            scenario(finding("alg-none", Verdict::Held, None)),
            scenario(finding("alg-none", Verdict::Violated, None)),
            scenario(finding("kid", Verdict::Held, None)),
        ])
        .unwrap();
        assert_eq!(report.verdict("alg-none"), Some(Verdict::Violated));
        assert_eq!(report.verdict("kid"), Some(Verdict::Held));
        assert_eq!(report.properties[0].variants, 2);
        assert_eq!(report.properties[0].violations, 1);
    }

    #[test]
    fn policy_properties_say_policy_and_what_was_observed() {
        let report = report(&[scenario(finding(
            "exp-required",
            Verdict::Violated,
            Some("Qlik accepts no exp"),
        ))])
        .unwrap();
        let p = &report.properties[0];
        assert_eq!(p.verdict, Verdict::Policy);
        assert_eq!(
            p.note.as_deref(),
            Some("Qlik accepts no exp; observed: accepted")
        );
    }

    #[test]
    fn a_property_with_no_applicable_variant_is_not_applicable() {
        let mut na = finding("audience", Verdict::NotApplicable, None);
        na.note = Some("the target does not check `audience`".to_owned());
        let report = report(&[scenario(na)]).unwrap();
        assert_eq!(report.verdict("audience"), Some(Verdict::NotApplicable));
        assert!(
            report.properties[0]
                .note
                .as_deref()
                .unwrap()
                .contains("audience")
        );
    }

    #[test]
    fn variants_apply_by_the_targets_settings() {
        let target = Suite {
            conformance: Some(ConformanceTarget {
                algorithms: vec!["RS256".to_owned()],
                ..ConformanceTarget::default()
            }),
            ..Suite::default()
        };
        let mut p = property("alg-pinning");
        p.unless_allowed = Some("${alg}".to_owned());
        let rs256 = |_: &str| "RS256".to_owned();
        let es256 = |_: &str| "ES256".to_owned();
        assert!(not_applicable(&p, &target, false, &rs256).is_some());
        assert!(not_applicable(&p, &target, false, &es256).is_none());
        let mut aud = property("audience");
        aud.requires = Some("audience".to_owned());
        assert!(not_applicable(&aud, &target, false, &rs256).is_some());
    }
}
