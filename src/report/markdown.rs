//! The Markdown summary (`--summary-md`) for `$GITHUB_STEP_SUMMARY` and GitLab job pages: the
//! outcome, what failed, and the key figures, in a few lines.
//!
//! Like the HTML page it is drawn from the JSON report, so `jwtprobe report --summary-md`
//! works on a saved report too.

use std::fmt::Write as _;

use serde_json::Value;

/// The most failures listed; the rest are counted.
const MAX_ROWS: usize = 20;

/// Escapes a table cell: pipes and newlines would break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_default()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// The summary of a run, from its JSON report.
pub fn run(json: &Value) -> String {
    let t = json.get("totals").cloned().unwrap_or(Value::Null);
    let failed = u64_of(&t, "failed") + u64_of(&t, "errors");
    let meta = json.get("meta").cloned().unwrap_or(Value::Null);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### jwtprobe run: {}\n",
        if failed == 0 {
            "✅ passed"
        } else {
            "❌ failed"
        }
    );
    let _ = writeln!(
        out,
        "{} scenarios against `{}`: **{}** steps passed, **{}** failed, **{}** errors, {} skipped ({:.2}s, jwtprobe {}).\n",
        u64_of(&t, "scenarios"),
        str_of(&meta, "target"),
        u64_of(&t, "passed"),
        u64_of(&t, "failed"),
        u64_of(&t, "errors"),
        u64_of(&t, "skipped"),
        u64_of(json, "duration") as f64 / 1e6,
        str_of(&meta, "version"),
    );
    let mut rows = Vec::new();
    for scenario in json
        .get("scenarios")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for step in scenario
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match str_of(step, "status") {
                "failed" => {
                    for o in step
                        .get("outcomes")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|o| !o.get("passed").and_then(Value::as_bool).unwrap_or(true))
                    {
                        let at = o
                            .get("at")
                            .filter(|a| !a.is_null())
                            .map(|a| {
                                format!(
                                    "{}:{}",
                                    str_of(a, "file"),
                                    a.get("span").map(|s| u64_of(s, "line")).unwrap_or(0)
                                )
                            })
                            .unwrap_or_default();
                        rows.push(format!(
                            "| {} | {} | {} | {} | {} | `{}` |",
                            cell(str_of(scenario, "name")),
                            cell(str_of(step, "name")),
                            cell(str_of(o, "check")),
                            cell(str_of(o, "expected")),
                            cell(str_of(o, "actual")),
                            cell(&at),
                        ));
                    }
                }
                "error" => rows.push(format!(
                    "| {} | {} | error | | {} | |",
                    cell(str_of(scenario, "name")),
                    cell(str_of(step, "name")),
                    cell(str_of(step, "message").lines().next().unwrap_or_default()),
                )),
                _ => {}
            }
        }
    }
    if !rows.is_empty() {
        out.push_str(
            "| scenario | step | check | expected | actual | where |\n|---|---|---|---|---|---|\n",
        );
        for row in rows.iter().take(MAX_ROWS) {
            out.push_str(row);
            out.push('\n');
        }
        if rows.len() > MAX_ROWS {
            let _ = writeln!(out, "\n…and {} more.", rows.len() - MAX_ROWS);
        }
    }
    out
}

/// The summary of a load run, from its JSON summary.
pub fn load(json: &Value) -> String {
    let overall = json.get("overall").cloned().unwrap_or(Value::Null);
    let thresholds = json
        .get("thresholds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let breached: Vec<&Value> = thresholds
        .iter()
        .filter(|t| !t.get("passed").and_then(Value::as_bool).unwrap_or(true))
        .collect();
    let meta = json.get("meta").cloned().unwrap_or(Value::Null);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### jwtprobe load: {}\n",
        if breached.is_empty() {
            "✅ passed"
        } else {
            "❌ threshold breached"
        }
    );
    let _ = writeln!(
        out,
        "{} requests in {:.1}s against `{}` ({:.1}/s, {}), {} errors ({:.3}%), schedule {}{}.\n",
        u64_of(&overall, "requests"),
        json.get("elapsed_s").and_then(Value::as_f64).unwrap_or(0.0),
        str_of(&meta, "target"),
        overall.get("rps").and_then(Value::as_f64).unwrap_or(0.0),
        str_of(json, "model"),
        u64_of(&overall, "errors"),
        overall
            .get("error_rate")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            * 100.0,
        if json
            .get("schedule_kept")
            .and_then(Value::as_bool)
            .unwrap_or(true)
        {
            "kept"
        } else {
            "**not kept**"
        },
        if json
            .get("interrupted")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            ", **interrupted**"
        } else {
            ""
        },
    );
    out.push_str("| | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n");
    for (label, key) in [("latency", "latency_us"), ("service time", "service_us")] {
        let p = overall.get(key).cloned().unwrap_or(Value::Null);
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} |",
            ms(u64_of(&p, "p50")),
            ms(u64_of(&p, "p90")),
            ms(u64_of(&p, "p99")),
            ms(u64_of(&p, "p99_9")),
            ms(u64_of(&p, "max")),
        );
    }
    if !thresholds.is_empty() {
        out.push_str("\n| threshold | result | actual |\n|---|---|---|\n");
        for t in &thresholds {
            let passed = t.get("passed").and_then(Value::as_bool).unwrap_or(false);
            let threshold = match t.get("threshold") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                cell(&threshold),
                if passed { "pass" } else { "**FAIL**" },
                cell(str_of(t, "actual_text")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn passing_run_says_so_without_a_table() {
        let md = run(&serde_json::json!({
            "totals": {"scenarios": 1, "passed": 2, "failed": 0, "errors": 0, "skipped": 0},
            "scenarios": [], "duration": 1000, "meta": {"target": "https://h", "version": "0"}
        }));
        assert!(md.starts_with("### jwtprobe run: ✅ passed"), "{md}");
        assert!(!md.contains("| scenario |"), "{md}");
    }
}
