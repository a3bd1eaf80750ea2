//! The HTML report: one self-contained file, readable offline and as a CI artifact.
//!
//! Both pages are drawn from the JSON reports ([`super::run::json`], [`super::load::to_json`]),
//! so `jwtprobe report run.json` and `jwtprobe run --html` give the same page. Plots are inline
//! SVG; there is no script, no font, no image and no link to load, and a Content Security
//! Policy (`default-src 'none'`) keeps it that way in the browser.
//!
//! The run page shows the summary, a conformance table when the run has verdicts (the JSON's
//! `conformance` array, one row per property, columns taken from its objects' keys), and every
//! scenario with its steps: failures with the diagnostic (YAML line and caret), expected and
//! actual, and the redacted request and response. The load page shows the outcome, the key
//! figures, thresholds, the pacer's noise floor and whether the schedule was kept, the
//! percentile distribution of every series (log-scaled percentile axis, latency from the
//! intended send against service time), and throughput, p50/p99 and error classes over time.
//!
//! Figures the tests read carry `data-*` attributes: `data-metric="p99"` on the key-figure
//! cells (microseconds in `data-us`), and `data-p99-us` on each distribution plot.

use std::fmt::Write as _;

use serde_json::Value;

use crate::load::stats::format_us;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 24px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: var(--muted); margin-bottom: 16px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; color: #fff; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; } .skip { color: var(--muted); }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 8px; overflow-x: auto; font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
details { margin: 4px 0; } summary { cursor: pointer; }
details.scenario { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { color: var(--muted); font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
svg .grid { stroke: #eaeef2; } svg .axis { stroke: #8c959f; }
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_default()
}

fn f64_of(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_default()
}

fn meta_line(json: &Value) -> String {
    let meta = json.get("meta").cloned().unwrap_or(Value::Null);
    format!(
        "<div class=\"meta\">target <b>{}</b> · started {} · host {} · {} {}</div>\n",
        escape(str_of(&meta, "target")),
        escape(str_of(&meta, "started")),
        escape(str_of(&meta, "hostname")),
        escape(str_of(&meta, "tool")),
        escape(str_of(&meta, "version")),
    )
}

/// A table from an array of objects, columns from the first object's keys (the conformance
/// hook: whatever fields a verdict has are shown).
fn object_table(rows: &[Value]) -> String {
    let Some(Value::Object(first)) = rows.first() else {
        return String::new();
    };
    let columns: Vec<&String> = first.keys().collect();
    let mut out = String::from("<table class=\"conformance\"><tr>");
    for c in &columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in &columns {
            let cell = match row.get(c.as_str()) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let class = match cell.as_str() {
                "held" | "pass" | "passed" => " class=\"pass\"",
                "violated" | "fail" | "failed" => " class=\"fail\"",
                _ => "",
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

fn headers_table(headers: Option<&Value>) -> String {
    let mut out = String::from("<table>");
    for pair in headers.and_then(Value::as_array).into_iter().flatten() {
        let name = pair.get(0).and_then(Value::as_str).unwrap_or_default();
        let value = pair.get(1).and_then(Value::as_str).unwrap_or_default();
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    out.push_str("</table>");
    out
}

fn step_details(step: &Value) -> String {
    let mut out = String::new();
    if let Some(diag) = step.get("diagnostic").and_then(Value::as_str) {
        let _ = write!(out, "<pre class=\"diag\">{}</pre>", escape(diag));
    }
    if let Some(outcomes) = step.get("outcomes").and_then(Value::as_array) {
        out.push_str("<table><tr><th>check</th><th>expected</th><th>actual</th><th></th></tr>");
        for o in outcomes {
            let passed = o.get("passed").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                escape(str_of(o, "check")),
                escape(str_of(o, "expected")),
                escape(str_of(o, "actual")),
                if passed { "pass" } else { "fail" },
                if passed { "ok" } else { "failed" },
            );
        }
        out.push_str("</table>");
    }
    if let Some(message) = step.get("message").and_then(Value::as_str)
        && step.get("diagnostic").is_none()
    {
        let _ = write!(out, "<pre>{}</pre>", escape(message));
    }
    if let Some(req) = step.get("request").filter(|r| !r.is_null()) {
        let _ = write!(
            out,
            "<details><summary>request: {} {}</summary>{}{}</details>",
            escape(str_of(req, "method")),
            escape(str_of(req, "url")),
            headers_table(req.get("headers")),
            req.get("token")
                .and_then(Value::as_str)
                .map(|t| format!("<p>token (redacted)</p><pre>{}</pre>", escape(t)))
                .unwrap_or_default(),
        );
    }
    if let Some(resp) = step.get("response").filter(|r| !r.is_null()) {
        let _ = write!(
            out,
            "<details><summary>response: {} ({} bytes)</summary>{}<pre>{}</pre></details>",
            u64_of(resp, "status"),
            u64_of(resp, "body_len"),
            headers_table(resp.get("headers")),
            escape(str_of(resp, "body_excerpt")),
        );
    }
    out
}

/// The HTML page of a run, from its JSON report (`jwtprobe.run/1`).
pub fn run(json: &Value) -> String {
    let totals = json.get("totals").cloned().unwrap_or(Value::Null);
    let failed = u64_of(&totals, "failed") + u64_of(&totals, "errors");
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>jwtprobe run <span class=\"badge {}\" id=\"outcome\">{}</span></h1>",
        if failed == 0 { "ok" } else { "bad" },
        if failed == 0 { "PASSED" } else { "FAILED" }
    );
    body.push_str(&meta_line(json));
    let _ = writeln!(
        body,
        "<table id=\"totals\"><tr><th>scenarios</th><th>steps passed</th><th>failed</th><th>errors</th><th>skipped</th><th>duration</th></tr>\
<tr><td class=\"num\">{}</td><td class=\"num pass\" data-metric=\"passed\">{}</td><td class=\"num{}\" data-metric=\"failed\">{}</td><td class=\"num\" data-metric=\"errors\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></table>",
        u64_of(&totals, "scenarios"),
        u64_of(&totals, "passed"),
        if u64_of(&totals, "failed") > 0 {
            " fail"
        } else {
            ""
        },
        u64_of(&totals, "failed"),
        u64_of(&totals, "errors"),
        u64_of(&totals, "skipped"),
        format_us(u64_of(json, "duration")),
    );
    if let Some(rows) = json.get("conformance").and_then(Value::as_array)
        && !rows.is_empty()
    {
        body.push_str("<h2>Conformance</h2>\n");
        body.push_str(&object_table(rows));
    }
    body.push_str("<h2>Scenarios</h2>\n");
    for scenario in json
        .get("scenarios")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let steps = scenario
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let passed = steps.iter().all(|s| str_of(s, "status") == "passed");
        let _ = writeln!(
            body,
            "<details class=\"scenario\"{}><summary><span class=\"{}\">{}</span> {} <span class=\"meta\">{} · {} steps · {}</span></summary>",
            if passed { "" } else { " open" },
            if passed { "pass" } else { "fail" },
            if passed { "PASS" } else { "FAIL" },
            escape(str_of(scenario, "name")),
            escape(str_of(scenario, "path")),
            steps.len(),
            format_us(u64_of(scenario, "duration")),
        );
        body.push_str("<table><tr><th>step</th><th>status</th><th>HTTP</th><th>time</th></tr>\n");
        for step in &steps {
            let status = str_of(step, "status");
            let class = match status {
                "passed" => "pass",
                "skipped" => "skip",
                _ => "fail",
            };
            let http = step
                .get("response")
                .and_then(|r| r.get("status"))
                .and_then(Value::as_u64)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td class=\"{class}\">{}</td><td class=\"num\">{http}</td><td class=\"num\">{}</td></tr>",
                escape(str_of(step, "name")),
                escape(status),
                format_us(u64_of(step, "duration")),
            );
            if status != "passed" || step.get("request").is_some_and(|r| !r.is_null()) {
                let _ = writeln!(
                    body,
                    "<tr><td colspan=\"4\"><details{}><summary>details</summary>{}</details></td></tr>",
                    if status == "passed" { "" } else { " open" },
                    step_details(step)
                );
            }
        }
        body.push_str("</table></details>\n");
    }
    page("jwtprobe run report", &body)
}

/// A linear or percentile axis.
#[derive(Debug, Clone, Copy)]
enum XAxis {
    /// Seconds from the start.
    Time,
    /// Percentiles, spaced by `log10(1 / (1 - p))` as HdrHistogram plots do.
    Percentile,
}

/// The x position of a percentile on the log axis: 90% → 1, 99% → 2, 99.9% → 3, …
fn percentile_x(p: f64) -> f64 {
    let tail = (1.0 - p / 100.0).max(1e-6);
    -tail.log10()
}

/// A tick step of 1, 2 or 5 times a power of ten so that `max` takes about five ticks.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// One line of a chart: a name, a colour and its points.
struct Line {
    name: String,
    color: &'static str,
    points: Vec<(f64, f64)>,
}

const COLORS: [&str; 6] = [
    "#0969da", "#bf8700", "#cf222e", "#1a7f37", "#8250df", "#57606a",
];

/// An SVG line chart; `attrs` are extra attributes on the `<svg>` element.
fn chart(title: &str, y_label: &str, x: XAxis, lines: &[Line], attrs: &str) -> String {
    let (w, h) = (560.0, 260.0);
    let (left, right, top, bottom) = (56.0, 36.0, 24.0, 40.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    // On the percentile axis the 100% point (the max) has no finite position: it is drawn one
    // unit right of the last tick the data reaches.
    let x_max = match x {
        XAxis::Time => lines
            .iter()
            .flat_map(|l| &l.points)
            .map(|(px, _)| *px)
            .fold(0.0, f64::max)
            .max(1.0),
        XAxis::Percentile => {
            lines
                .iter()
                .flat_map(|l| &l.points)
                .filter(|(p, _)| *p < 100.0)
                .map(|(p, _)| percentile_x(*p))
                .fold(1.0, f64::max)
                .ceil()
                + 1.0
        }
    };
    let px_of = |v: f64| match x {
        XAxis::Time => v,
        XAxis::Percentile if v >= 100.0 => x_max,
        XAxis::Percentile => percentile_x(v).min(x_max),
    };
    let y_max_raw = lines
        .iter()
        .flat_map(|l| &l.points)
        .map(|(_, py)| *py)
        .fold(0.0, f64::max);
    let step = nice_step(y_max_raw);
    let y_max = ((y_max_raw / step).ceil() * step).max(step);
    let sx = |v: f64| left + pw * (v / x_max);
    let sy = |v: f64| top + ph - ph * (v / y_max);
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\"{attrs}>",
        escape(title)
    );
    // Y grid and labels.
    let mut v = 0.0;
    while v <= y_max + step / 2.0 {
        let y = sy(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + pw,
            left - 4.0,
            y + 4.0,
            trim_number(v)
        );
        v += step;
    }
    // X ticks.
    match x {
        XAxis::Time => {
            let xstep = nice_step(x_max);
            let mut t = 0.0;
            while t <= x_max + xstep / 100.0 {
                let px = sx(t);
                let _ = write!(
                    out,
                    "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{top}\" y2=\"{:.1}\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}s</text>",
                    top + ph,
                    top + ph + 14.0,
                    trim_number(t)
                );
                t += xstep;
            }
        }
        XAxis::Percentile => {
            let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"];
            for (i, label) in labels.iter().enumerate() {
                let i = i as f64;
                if i >= x_max {
                    let px = sx(x_max);
                    let _ = write!(
                        out,
                        "<text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">max</text>",
                        top + ph + 14.0,
                    );
                    break;
                }
                let px = sx(i);
                let _ = write!(
                    out,
                    "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{top}\" y2=\"{:.1}\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                    top + ph,
                    top + ph + 14.0,
                );
            }
        }
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{:.1}\"/><line class=\"axis\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        top + ph,
        left + pw,
        top + ph,
        top + ph
    );
    let _ = write!(
        out,
        "<text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        top + ph / 2.0,
        top + ph / 2.0,
        escape(y_label)
    );
    let x_label = match x {
        XAxis::Time => "time since start",
        XAxis::Percentile => "percentile (log scale)",
    };
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x_label}</text>",
        left + pw / 2.0,
        h - 6.0
    );
    for line in lines {
        if line.points.is_empty() {
            continue;
        }
        let path: Vec<String> = line
            .points
            .iter()
            .map(|(px, py)| format!("{:.1},{:.1}", sx(px_of(*px)), sy(*py)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            line.color,
            path.join(" "),
            escape(&line.name)
        );
        if line.points.len() == 1 {
            let (cx, cy) = line.points[0];
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                sx(px_of(cx)),
                sy(cy),
                line.color
            );
        }
    }
    // Legend, above the plot, one entry after the other (about 6.5 px per character).
    let mut lx = left;
    for line in lines {
        let ly = top - 8.0;
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"3\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            ly - 4.0,
            line.color,
            lx + 14.0,
            ly,
            escape(&line.name)
        );
        lx += 28.0 + 6.5 * line.name.chars().count() as f64;
    }
    let _ = write!(
        out,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(title)
    );
    out
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn percentile_row(label: &str, p: &Value, series: &str) -> String {
    let mut out = format!("<tr><th>{}</th>", escape(label));
    for key in ["p50", "p90", "p99", "p99_9", "max"] {
        let v = u64_of(p, key);
        let _ = write!(
            out,
            "<td class=\"num\" data-series=\"{}\" data-metric=\"{key}\" data-us=\"{v}\">{}</td>",
            escape(series),
            format_us(v)
        );
    }
    let _ = write!(out, "<td class=\"num\">{}</td></tr>", u64_of(p, "count"));
    out
}

fn series_name(series: &Value) -> String {
    match series.get("step").and_then(Value::as_str) {
        Some(step) => format!("{step} ({})", str_of(series, "session")),
        None => "all".to_owned(),
    }
}

fn distribution_chart(series: &Value) -> String {
    let points = series
        .get("distribution")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let take = |key: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .map(|p| (f64_of(p, "percentile"), u64_of(p, key) as f64 / 1000.0))
            .collect()
    };
    let name = series_name(series);
    if points.is_empty() {
        return format!(
            "<p class=\"meta\">{}: no response, so no latency to plot.</p>",
            escape(&name)
        );
    }
    let lines = [
        Line {
            name: "latency (from intended send)".to_owned(),
            color: COLORS[0],
            points: take("latency_us"),
        },
        Line {
            name: "service time (from actual send)".to_owned(),
            color: COLORS[1],
            points: take("service_us"),
        },
    ];
    let attrs = format!(
        " data-chart=\"distribution\" data-series=\"{}\" data-p99-us=\"{}\"",
        escape(&name),
        series
            .get("latency_us")
            .map(|p| u64_of(p, "p99"))
            .unwrap_or_default()
    );
    chart(
        &format!("percentile distribution: {name}"),
        "latency (ms)",
        XAxis::Percentile,
        &lines,
        &attrs,
    )
}

/// The HTML page of a load run (or merged shards), from its JSON summary (`jwtprobe.load/1`).
pub fn load(json: &Value) -> String {
    let overall = json.get("overall").cloned().unwrap_or(Value::Null);
    let thresholds = json
        .get("thresholds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let breached = thresholds
        .iter()
        .any(|t| !t.get("passed").and_then(Value::as_bool).unwrap_or(true));
    let interrupted = json
        .get("interrupted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kept = json
        .get("schedule_kept")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut body = String::new();
    let (class, word) = if breached {
        ("bad", "THRESHOLD BREACHED")
    } else if interrupted {
        ("warn", "INTERRUPTED")
    } else {
        ("ok", "PASSED")
    };
    let _ = writeln!(
        body,
        "<h1>jwtprobe load <span class=\"badge {class}\" id=\"outcome\">{word}</span></h1>"
    );
    body.push_str(&meta_line(json));
    let _ = writeln!(
        body,
        "<p><b>{}</b> requests in {:.2}s ({:.1}/s, {}) · <b>{}</b> errors ({:.3}%) · schedule <span class=\"{}\" id=\"schedule\">{}</span>{}</p>",
        u64_of(&overall, "requests"),
        f64_of(json, "elapsed_s"),
        f64_of(&overall, "rps"),
        escape(str_of(json, "model")),
        u64_of(&overall, "errors"),
        f64_of(&overall, "error_rate") * 100.0,
        if kept { "pass" } else { "fail" },
        if kept { "kept" } else { "NOT KEPT" },
        json.get("schedule_notes")
            .and_then(Value::as_array)
            .filter(|n| !n.is_empty())
            .map(|n| format!(
                " ({})",
                escape(
                    &n.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            ))
            .unwrap_or_default(),
    );
    if let Some(pacer) = json.get("pacer").filter(|p| !p.is_null()) {
        let late = pacer.get("lateness_us").cloned().unwrap_or(Value::Null);
        let _ = writeln!(
            body,
            "<p id=\"pacer\">pacer lateness (the generator's noise floor): p50 {} · p99 {} · max {}{}</p>",
            format_us(u64_of(&late, "p50")),
            format_us(u64_of(&late, "p99")),
            format_us(u64_of(&late, "max")),
            pacer
                .get("max_backlog")
                .and_then(Value::as_u64)
                .map(|b| format!(" · max backlog {b}"))
                .unwrap_or_default()
        );
    }
    body.push_str("<h2>Key figures</h2>\n<table id=\"figures\"><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>count</th></tr>\n");
    if let Some(l) = overall.get("latency_us") {
        body.push_str(&percentile_row("latency (all)", l, "all"));
    }
    if let Some(s) = overall.get("service_us") {
        body.push_str(&percentile_row("service time (all)", s, "all-service"));
    }
    let steps = json
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for step in &steps {
        if let Some(l) = step.get("latency_us") {
            body.push_str(&percentile_row(
                &format!("latency: {}", series_name(step)),
                l,
                &series_name(step),
            ));
        }
    }
    body.push_str("</table>\n");
    if !thresholds.is_empty() {
        body.push_str("<h2>Thresholds</h2>\n<table id=\"thresholds\"><tr><th>threshold</th><th>result</th><th>actual</th></tr>\n");
        for t in &thresholds {
            let passed = t.get("passed").and_then(Value::as_bool).unwrap_or(false);
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(&t.get("threshold").map(value_text).unwrap_or_default()),
                if passed { "pass" } else { "fail" },
                if passed { "pass" } else { "FAIL" },
                escape(str_of(t, "actual_text")),
            );
        }
        body.push_str("</table>\n");
    }
    body.push_str("<h2>Latency distribution</h2>\n<div class=\"charts\">\n");
    body.push_str(&distribution_chart(&overall));
    if steps.len() > 1 {
        for step in &steps {
            body.push_str(&distribution_chart(step));
        }
    }
    body.push_str("</div>\n");
    let timeline = json
        .get("timeline")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    body.push_str("<h2>Over time</h2>\n");
    if timeline.is_empty() {
        body.push_str("<p class=\"meta\">No interval log was written, so there is nothing to plot over time.</p>\n");
    } else {
        let pick = |key: &str, scale: f64| -> Vec<(f64, f64)> {
            timeline
                .iter()
                .map(|p| (f64_of(p, "t_s"), f64_of(p, key) / scale))
                .collect()
        };
        body.push_str("<div class=\"charts\">\n");
        body.push_str(&chart(
            "throughput per interval",
            "requests/s",
            XAxis::Time,
            &[Line {
                name: "requests/s".to_owned(),
                color: COLORS[3],
                points: pick("rps", 1.0),
            }],
            " data-chart=\"throughput\"",
        ));
        body.push_str(&chart(
            "latency per interval",
            "latency (ms)",
            XAxis::Time,
            &[
                Line {
                    name: "p50".to_owned(),
                    color: COLORS[0],
                    points: pick("latency_p50_us", 1000.0),
                },
                Line {
                    name: "p99".to_owned(),
                    color: COLORS[2],
                    points: pick("latency_p99_us", 1000.0),
                },
                Line {
                    name: "service p99".to_owned(),
                    color: COLORS[1],
                    points: pick("service_p99_us", 1000.0),
                },
            ],
            " data-chart=\"latency-over-time\"",
        ));
        let mut classes: Vec<String> = timeline
            .iter()
            .filter_map(|p| p.get("error_classes").and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect();
        classes.sort();
        classes.dedup();
        if classes.is_empty() {
            body.push_str("<p id=\"no-errors\">No errors in any interval.</p>\n");
        } else {
            let lines: Vec<Line> = classes
                .iter()
                .enumerate()
                .map(|(i, class)| Line {
                    name: class.clone(),
                    color: COLORS[(i + 2) % COLORS.len()],
                    points: timeline
                        .iter()
                        .map(|p| {
                            let n = p
                                .get("error_classes")
                                .and_then(|m| m.get(class))
                                .and_then(Value::as_u64)
                                .unwrap_or(0);
                            (f64_of(p, "t_s"), n as f64)
                        })
                        .collect(),
                })
                .collect();
            body.push_str(&chart(
                "errors per interval, by class",
                "errors",
                XAxis::Time,
                &lines,
                " data-chart=\"errors-over-time\"",
            ));
        }
        body.push_str("</div>\n");
    }
    let statuses = overall
        .get("statuses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let errors = overall
        .get("error_classes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    body.push_str(
        "<h2>Responses and errors</h2>\n<table><tr><th>status / class</th><th>count</th></tr>\n",
    );
    for (k, v) in statuses.iter().chain(errors.iter()) {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(k),
            v.as_u64().unwrap_or(0)
        );
    }
    body.push_str("</table>\n");
    if let Some(mint) = json.get("mint_us").filter(|m| !m.is_null()) {
        let _ = writeln!(
            body,
            "<p>token minting (not in latency): {} tokens, p50 {}, p99 {}</p>",
            u64_of(mint, "count"),
            format_us(u64_of(mint, "p50")),
            format_us(u64_of(mint, "p99"))
        );
    }
    page("jwtprobe load report", &body)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_puts_each_nine_one_unit_further() {
        assert!((percentile_x(90.0) - 1.0).abs() < 1e-9);
        assert!((percentile_x(99.9) - 3.0).abs() < 1e-9);
        assert!((percentile_x(100.0) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn nice_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(10.0), 2.0);
        assert_eq!(nice_step(23.0), 5.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn page_has_a_policy_that_blocks_every_fetch_and_no_script() {
        let html = run(&serde_json::json!({"totals": {}, "scenarios": []}));
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"));
    }

    #[test]
    fn run_page_of_a_failed_step_looks_like_this() {
        let json = serde_json::json!({
            "schema": "jwtprobe.run/1",
            "meta": {"tool": "jwtprobe", "version": "0.0.0", "hostname": "host",
                     "started": "2026-01-01T00:00:00Z", "target": "https://qlik.test"},
            "totals": {"scenarios": 1, "passed": 0, "failed": 1, "errors": 0, "skipped": 0},
            "duration": 1500,
            "scenarios": [{
                "name": "expired <token>", "path": "scenarios/qlik/expired.yaml", "tags": [],
                "duration": 1400,
                "steps": [{
                    "name": "open the hub", "status": "failed", "duration": 1300,
                    "diagnostic": "error: check failed\n  |\n9 |       status: 200\n  |               ^^^ actual value is <400>\n",
                    "outcomes": [{"check": "status", "passed": false, "expected": "200",
                                  "actual": "400", "at": null}],
                    "request": {"method": "GET", "url": "https://qlik.test/jwt/hub/",
                                "headers": [["authorization", "Bearer eyJh.eyJw.…sig:1a2b3c4d"]],
                                "token": "eyJh.eyJw.…sig:1a2b3c4d"},
                    "response": {"status": 400, "headers": [["set-cookie", "X=••••(len 36, sha256:1a2b3c4d)"]],
                                 "body_excerpt": "<h1>Bad Request</h1>", "body_len": 20},
                    "timings": null
                }]
            }]
        });
        insta::assert_snapshot!("run_html", run(&json));
    }

    #[test]
    fn conformance_rows_become_a_table() {
        let html = run(&serde_json::json!({
            "totals": {}, "scenarios": [],
            "conformance": [{"property": "rejects alg none", "verdict": "held", "evidence": "400"}]
        }));
        assert!(html.contains("<h2>Conformance</h2>"), "{html}");
        assert!(html.contains("<td class=\"pass\">held</td>"), "{html}");
    }
}
