//! Load thresholds: `p99 < 20ms`, `error_rate < 0.1%`, `rps > 1000`, `open-hub.p99 < 10ms`.
//!
//! [`parse`] reads one expression into a [`Threshold`]; [`Threshold::validate`] checks that a
//! step it names exists; [`Threshold::evaluate`] compares it with a run's [`Stats`]. A parse or
//! validation error is a [`ThresholdError`] carrying the byte range of the bad part, so the CLI
//! can point a caret at it inside the scenario's YAML string. An unknown metric or step is
//! always an error and never a silent pass, and a latency threshold over a series with no
//! samples fails instead of comparing against zero.
//!
//! Grammar: `[STEP.]METRIC OP VALUE` where
//! - `METRIC` is `p50`, `p99.9` (any percentile in 0 < p ≤ 100), `max`, `min` or `mean`
//!   over latency from the intended send time; `service.p99` etc. over service time from the
//!   actual send; `lateness.p99` etc. over send lateness; or `error_rate`, `rps`,
//!   `requests`, `errors`;
//! - `OP` is `<`, `<=`, `>` or `>=`;
//! - `VALUE` is a duration with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`) for latency
//!   metrics, a percentage (`0.1%`) or fraction (`0.001`) for `error_rate`, and a number for
//!   the others (`rps` also accepts `/s`).

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use super::stats::{Series, Stats};

/// Which histogram a latency metric reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Latency from the intended send time (coordinated omission corrected); the default.
    Latency,
    /// Service time from the actual send (`service.` prefix).
    Service,
    /// Send lateness, actual minus intended send (`lateness.` prefix).
    Lateness,
}

/// A statistic of a histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// A percentile, 0 < p ≤ 100 (`p99.9` is 99.9).
    Percentile(f64),
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// The mean.
    Mean,
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A statistic of a latency histogram, compared in microseconds.
    Time(Timing, Statistic),
    /// Errors divided by requests, compared as a fraction (0.001 = 0.1 %).
    ErrorRate,
    /// Requests per second over the measured window.
    Rps,
    /// Requests sent.
    Requests,
    /// Requests that counted as errors.
    Errors,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Self::Lt => actual < limit,
            Self::Le => actual <= limit,
            Self::Gt => actual > limit,
            Self::Ge => actual >= limit,
        }
    }
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub source: String,
    /// The step it is limited to; `None` for the whole run.
    pub step: Option<String>,
    /// Byte range of the step name within the original text, when there is one.
    pub step_range: Option<Range<usize>>,
    /// What is measured.
    pub metric: Metric,
    /// The comparison that must hold.
    pub op: Op,
    /// The limit, in the metric's unit: microseconds for times, a fraction for `error_rate`,
    /// per second for `rps`, a count for `requests` and `errors`.
    pub limit: f64,
}

/// A threshold that cannot be parsed or names something unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid threshold `{text}`: {message}")]
pub struct ThresholdError {
    /// The whole expression.
    pub text: String,
    /// What is wrong, as a caret label ("unknown metric `p9x`").
    pub message: String,
    /// Byte range of the bad part within the expression.
    pub range: Range<usize>,
    /// A suggestion, when we have one.
    pub hint: Option<String>,
}

/// The result of checking one threshold against a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdVerdict {
    /// The expression as written.
    pub threshold: String,
    /// Whether the comparison held.
    pub passed: bool,
    /// The measured value in the metric's unit; `None` when there was nothing to measure.
    pub actual: Option<f64>,
    /// The measured value for people (`1.25ms`, `0.12%`, `980/s`), or why there is none.
    pub actual_text: String,
}

const METRIC_WORDS: [&str; 11] = [
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "min",
    "mean",
    "error_rate",
    "rps",
    "requests",
    "errors",
];

/// Parses one threshold expression.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let err = |message: String, range: Range<usize>, hint: Option<String>| ThresholdError {
        text: text.to_owned(),
        message,
        range,
        hint,
    };
    let Some((op_at, op)) = find_op(text) else {
        return Err(err(
            "expected a comparison: `<`, `<=`, `>` or `>=`".to_owned(),
            0..text.len(),
            Some("write it like `p99 < 20ms`".to_owned()),
        ));
    };
    let op_len = op.as_str().len();
    let left = trimmed(text, 0..op_at);
    let right = trimmed(text, op_at + op_len..text.len());
    if left.is_empty() {
        return Err(err(
            "expected a metric before the comparison".to_owned(),
            op_at..op_at + op_len,
            None,
        ));
    }
    if right.is_empty() {
        return Err(err(
            "expected a value after the comparison".to_owned(),
            op_at..op_at + op_len,
            None,
        ));
    }
    let path = &text[left.clone()];
    let (step, step_range, metric) = match parse_metric(path) {
        Some(metric) => (None, None, metric),
        None => {
            let split = path
                .char_indices()
                .filter(|(_, c)| *c == '.')
                .find_map(|(i, _)| parse_metric(&path[i + 1..]).map(|m| (i, m)));
            match split {
                Some((i, metric)) if i > 0 => (
                    Some(path[..i].to_owned()),
                    Some(left.start..left.start + i),
                    metric,
                ),
                _ => {
                    // Point at the part after the last dot when there is a step-like prefix.
                    let (word, range) = match path.rfind('.') {
                        Some(i) if !path[..i].is_empty() && !looks_like_percentile(path) => {
                            (&path[i + 1..], left.start + i + 1..left.end)
                        }
                        _ => (path, left.clone()),
                    };
                    let hint = crate::diag::did_you_mean(word, &METRIC_WORDS)
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("metrics are {}", METRIC_WORDS.join(", "))));
                    return Err(err(format!("unknown metric `{word}`"), range, hint));
                }
            }
        }
    };
    let value_text = &text[right.clone()];
    let limit =
        parse_value(metric, value_text).map_err(|message| err(message, right.clone(), None))?;
    Ok(Threshold {
        source: text.trim().to_owned(),
        step,
        step_range,
        metric,
        op,
        limit,
    })
}

fn looks_like_percentile(path: &str) -> bool {
    path.starts_with('p') && path[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The first comparison operator in `text` and its byte offset.
fn find_op(text: &str) -> Option<(usize, Op)> {
    let i = text.find(['<', '>'])?;
    let next = text[i + 1..].starts_with('=');
    let op = match (&text[i..i + 1], next) {
        ("<", true) => Op::Le,
        ("<", false) => Op::Lt,
        (">", true) => Op::Ge,
        _ => Op::Gt,
    };
    Some((i, op))
}

/// The range with surrounding whitespace removed.
fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let part = &text[range.clone()];
    let start = range.start + (part.len() - part.trim_start().len());
    let end = range.end - (part.len() - part.trim_end().len());
    start..end.max(start)
}

fn parse_metric(word: &str) -> Option<Metric> {
    match word {
        "error_rate" => return Some(Metric::ErrorRate),
        "rps" => return Some(Metric::Rps),
        "requests" => return Some(Metric::Requests),
        "errors" => return Some(Metric::Errors),
        _ => {}
    }
    let (timing, stat) = if let Some(rest) = word.strip_prefix("service.") {
        (Timing::Service, rest)
    } else if let Some(rest) = word.strip_prefix("lateness.") {
        (Timing::Lateness, rest)
    } else if let Some(rest) = word.strip_prefix("latency.") {
        (Timing::Latency, rest)
    } else {
        (Timing::Latency, word)
    };
    let stat = match stat {
        "max" => Statistic::Max,
        "min" => Statistic::Min,
        "mean" => Statistic::Mean,
        p => {
            let digits = p.strip_prefix('p')?;
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return None;
            }
            let percent: f64 = digits.parse().ok()?;
            if !(percent > 0.0 && percent <= 100.0) {
                return None;
            }
            Statistic::Percentile(percent)
        }
    };
    Some(Metric::Time(timing, stat))
}

fn parse_value(metric: Metric, text: &str) -> Result<f64, String> {
    let number = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("expected a non-negative number, found `{s}`"))
    };
    match metric {
        Metric::Time(..) => {
            let split = text
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| {
                    format!("expected a duration with a unit (µs, ms, s), found `{text}`")
                })?;
            let (n, unit) = text.split_at(split);
            let n = number(n)?;
            let scale = match unit.trim() {
                "ns" => 0.001,
                "us" | "µs" => 1.0,
                "ms" => 1_000.0,
                "s" => 1_000_000.0,
                "m" => 60_000_000.0,
                other => {
                    return Err(format!(
                        "unknown duration unit `{other}`; use ns, µs, ms, s or m"
                    ));
                }
            };
            Ok(n * scale)
        }
        Metric::ErrorRate => match text.strip_suffix('%') {
            Some(p) => Ok(number(p)? / 100.0),
            None => {
                let v = number(text)?;
                if v > 1.0 {
                    Err(format!(
                        "an error rate is a fraction (0..1) or a percentage; did you mean `{text}%`?"
                    ))
                } else {
                    Ok(v)
                }
            }
        },
        Metric::Rps => number(text.strip_suffix("/s").unwrap_or(text)),
        Metric::Requests | Metric::Errors => {
            let v = number(text)?;
            if v.fract() != 0.0 {
                return Err(format!("expected a whole number, found `{text}`"));
            }
            Ok(v)
        }
    }
}

impl Threshold {
    /// Checks that the step this threshold names (if any) is one of `steps`.
    pub fn validate<S: AsRef<str>>(&self, steps: &[S]) -> Result<(), ThresholdError> {
        let Some(step) = &self.step else {
            return Ok(());
        };
        if steps.iter().any(|s| s.as_ref() == step) {
            return Ok(());
        }
        let names: Vec<&str> = steps.iter().map(AsRef::as_ref).collect();
        let hint = crate::diag::did_you_mean(step, &names)
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                (!names.is_empty())
                    .then(|| format!("steps are {}", crate::diag::backticked(&names)))
            });
        Err(ThresholdError {
            text: self.source.clone(),
            message: format!("unknown step `{step}`"),
            range: self.step_range.clone().unwrap_or(0..self.source.len()),
            hint,
        })
    }

    /// Compares the threshold with a run's statistics; `elapsed` is the measured window.
    pub fn evaluate(&self, stats: &Stats, elapsed: Duration) -> ThresholdVerdict {
        let series = match &self.step {
            Some(step) => stats.step(step).unwrap_or_default(),
            None => stats.overall(),
        };
        let measured = measure(self.metric, &series, elapsed);
        let (passed, actual, actual_text) = match measured {
            Ok((value, text)) => (self.op.holds(value, self.limit), Some(value), text),
            Err(why) => (false, None, why),
        };
        ThresholdVerdict {
            threshold: self.source.clone(),
            passed,
            actual,
            actual_text,
        }
    }
}

/// The value of a metric over a series, or why there is none.
fn measure(metric: Metric, series: &Series, elapsed: Duration) -> Result<(f64, String), String> {
    match metric {
        Metric::Time(timing, stat) => {
            let h = match timing {
                Timing::Latency => &series.latency,
                Timing::Service => &series.service,
                Timing::Lateness => &series.lateness,
            };
            if h.is_empty() {
                return Err("no samples".to_owned());
            }
            let us = match stat {
                Statistic::Percentile(p) => h.value_at_quantile(p / 100.0) as f64,
                Statistic::Max => h.max() as f64,
                Statistic::Min => h.min() as f64,
                Statistic::Mean => h.mean(),
            };
            Ok((us, super::stats::format_us(us.round() as u64)))
        }
        Metric::ErrorRate => series
            .error_rate()
            .map(|r| (r, format!("{:.3}%", r * 100.0)))
            .ok_or_else(|| "no requests".to_owned()),
        Metric::Rps => {
            let secs = elapsed.as_secs_f64();
            if secs <= 0.0 {
                return Err("no measured time".to_owned());
            }
            let rps = series.requests() as f64 / secs;
            Ok((rps, format!("{rps:.1}/s")))
        }
        Metric::Requests => {
            let n = series.requests();
            Ok((n as f64, n.to_string()))
        }
        Metric::Errors => {
            let n = series.error_count();
            Ok((n as f64, n.to_string()))
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::load::stats::{ErrorClass, Sample, SampleOutcome, SeriesKey};
    use crate::scenario::SessionMode;

    /// A run with `n` samples of service time 1..=n µs on step `open-hub`, and one error.
    fn stats(n: u64) -> Stats {
        let mut series = Series::new();
        let t0 = Instant::now();
        for i in 1..=n {
            series.record(&Sample {
                series: 0,
                intended: t0,
                started: t0,
                finished: t0 + Duration::from_micros(i),
                outcome: SampleOutcome::Response {
                    status: 200,
                    error: None,
                },
            });
        }
        series.record(&Sample {
            series: 0,
            intended: t0,
            started: t0,
            finished: t0,
            outcome: SampleOutcome::Failed(ErrorClass::Timeout),
        });
        let mut stats = Stats::new();
        stats
            .series
            .insert(SeriesKey::new("open-hub", SessionMode::Bearer), series);
        stats
    }

    fn check(expr: &str) -> bool {
        parse(expr)
            .unwrap()
            .evaluate(&stats(1000), Duration::from_secs(1))
            .passed
    }

    #[test]
    fn percentile_thresholds_pass_and_fail_as_written() {
        assert!(check("p99 < 1ms"));
        assert!(check("p99 <= 990us"));
        assert!(!check("p99 < 990us"));
        assert!(check("p50 <= 0.5ms"));
        assert!(!check("p50 < 0.5ms"));
        assert!(check("p99.9 <= 1ms"));
        assert!(check("max < 1001µs"));
        assert!(!check("max < 1ms"));
        assert!(check("service.p99 < 1ms"));
        assert!(check("lateness.max < 1us"));
    }

    #[test]
    fn rate_and_count_thresholds_pass_and_fail_as_written() {
        assert!(check("error_rate < 0.1%"));
        assert!(!check("error_rate < 0.09%"));
        assert!(check("error_rate <= 0.001"));
        assert!(check("rps > 1000"));
        assert!(!check("rps > 1001/s"));
        assert!(check("requests >= 1001"));
        assert!(check("errors < 2"));
    }

    #[test]
    fn step_threshold_reads_only_that_step() {
        let t = parse("open-hub.p99 < 1ms").unwrap();
        assert_eq!(t.step.as_deref(), Some("open-hub"));
        assert_eq!(t.step_range, Some(0..8));
        assert!(t.validate(&["open-hub"]).is_ok());
        assert!(t.evaluate(&stats(1000), Duration::from_secs(1)).passed);
        let dotted = parse("hub.v2.p99.9 < 1ms").unwrap();
        assert_eq!(dotted.step.as_deref(), Some("hub.v2"));
        assert_eq!(
            dotted.metric,
            Metric::Time(Timing::Latency, Statistic::Percentile(99.9))
        );
    }

    #[test]
    fn unknown_metric_is_an_error_pointing_at_the_metric() {
        let err = parse("p99x < 20ms").unwrap_err();
        assert_eq!(err.range, 0..4);
        assert!(
            err.message.contains("unknown metric `p99x`"),
            "{}",
            err.message
        );
        let err = parse("open-hub.latncy < 20ms").unwrap_err();
        assert_eq!(&"open-hub.latncy < 20ms"[err.range.clone()], "latncy");
        let err = parse("  error_rat < 1%").unwrap_err();
        assert_eq!(err.range, 2..11);
        assert_eq!(err.hint.as_deref(), Some("did you mean `error_rate`?"));
    }

    #[test]
    fn unknown_step_is_an_error_pointing_at_the_step() {
        let t = parse("open-hb.p99 < 10ms").unwrap();
        let err = t.validate(&["open-hub", "logout"]).unwrap_err();
        assert_eq!(err.range, 0..7);
        assert_eq!(err.hint.as_deref(), Some("did you mean `open-hub`?"));
    }

    #[test]
    fn bad_values_are_errors_pointing_at_the_value() {
        let text = "p99 < 20";
        let err = parse(text).unwrap_err();
        assert_eq!(&text[err.range.clone()], "20");
        assert!(err.message.contains("unit"), "{}", err.message);
        assert!(parse("p99 < 20 parsecs").is_err());
        assert!(parse("error_rate < 5").is_err());
        assert!(parse("requests > 1.5").is_err());
        assert!(parse("p99 20ms").is_err());
        assert!(parse("p0 < 1ms").is_err());
        assert!(parse("p101 < 1ms").is_err());
    }

    #[test]
    fn threshold_over_no_samples_fails_instead_of_passing() {
        let t = parse("p99 < 20ms").unwrap();
        let verdict = t.evaluate(&Stats::new(), Duration::from_secs(1));
        assert!(!verdict.passed);
        assert_eq!(verdict.actual_text, "no samples");
        let t = parse("error_rate < 1%").unwrap();
        assert!(!t.evaluate(&Stats::new(), Duration::from_secs(1)).passed);
    }
}
