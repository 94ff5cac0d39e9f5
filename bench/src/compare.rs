//! Two sides' benchmark reports side by side: the ratios a change to the hot
//! path is judged by (sagas/s, p99, CPU per saga, the ceiling), level by
//! level. Each side may have several runs, averaged: `make bench-compare`
//! runs base, head, head, base, because on a shared machine whichever runs
//! first is measured faster (by about 10% here), and that order cancels out.

use std::fmt::Write;

use serde_json::Value;

/// One concurrency level of a report, as the comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub concurrency: u64,
    pub sagas_per_s: f64,
    pub p99_ms: f64,
    pub cpu_ms_per_saga: f64,
    pub database_cpu_ms_per_saga: f64,
    pub ceiling_per_s: Option<f64>,
}

/// The levels of a report (`bench`'s JSON), read leniently: a report written
/// by an older `bench` still compares.
pub fn figures(report: &Value) -> Vec<Figures> {
    let ceiling = |c: u64| {
        report["ceiling"].as_array().and_then(|levels| {
            levels
                .iter()
                .find(|l| l["concurrency"].as_u64() == Some(c))
                .and_then(|l| l["throughput"].as_f64())
        })
    };
    report["saga"]
        .as_array()
        .map(|levels| {
            levels
                .iter()
                .filter_map(|l| {
                    let concurrency = l["concurrency"].as_u64()?;
                    let cpu = l["cpu_ms_per_saga"].as_object();
                    Some(Figures {
                        concurrency,
                        sagas_per_s: l["throughput"].as_f64()?,
                        p99_ms: l["p99_ms"].as_f64()?,
                        cpu_ms_per_saga: cpu
                            .map(|m| m.values().filter_map(Value::as_f64).sum())
                            .unwrap_or(0.0),
                        database_cpu_ms_per_saga: cpu
                            .and_then(|m| m.get("database"))
                            .and_then(Value::as_f64)
                            .unwrap_or(0.0),
                        ceiling_per_s: ceiling(concurrency),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The mean of each figure over `runs`, at each level every run measured.
pub fn mean(runs: &[Vec<Figures>]) -> Vec<Figures> {
    let Some((first, rest)) = runs.split_first() else {
        return Vec::new();
    };
    let n = runs.len() as f64;
    first
        .iter()
        .filter_map(|level| {
            let same: Vec<&Figures> = std::iter::once(Some(level))
                .chain(
                    rest.iter()
                        .map(|r| r.iter().find(|f| f.concurrency == level.concurrency)),
                )
                .collect::<Option<_>>()?;
            let avg = |field: fn(&Figures) -> f64| same.iter().map(|f| field(f)).sum::<f64>() / n;
            let ceilings: Option<Vec<f64>> = same.iter().map(|f| f.ceiling_per_s).collect();
            Some(Figures {
                concurrency: level.concurrency,
                sagas_per_s: avg(|f| f.sagas_per_s),
                p99_ms: avg(|f| f.p99_ms),
                cpu_ms_per_saga: avg(|f| f.cpu_ms_per_saga),
                database_cpu_ms_per_saga: avg(|f| f.database_cpu_ms_per_saga),
                ceiling_per_s: ceilings.map(|c| c.iter().sum::<f64>() / n),
            })
        })
        .collect()
}

fn ratio(new: f64, old: f64) -> String {
    if old <= 0.0 {
        return "-".into();
    }
    format!("{:.2}×", new / old)
}

/// A Markdown table: each level both reports measured, base → head, and the
/// ratio head / base.
pub fn markdown(base_name: &str, base: &[Value], head_name: &str, head: &[Value]) -> String {
    let side = |runs: &[Value]| mean(&runs.iter().map(figures).collect::<Vec<_>>());
    let (old, new) = (side(base), side(head));
    let commit = |runs: &[Value]| {
        runs.first()
            .and_then(|r| r["commit"].as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Base `{base_name}` ({}), head `{head_name}` ({}), on this machine: {} run(s) of the base and {} of \
         the head, each side's figures the mean of its runs. Ratios are head / base: above 1 is better \
         for sagas/s, below 1 is better for p99 and CPU.\n",
        commit(base),
        commit(head),
        base.len(),
        head.len(),
    );
    let _ = writeln!(
        md,
        "| concurrency | sagas/s | ratio | p99 ms | ratio | CPU ms/saga | ratio | database CPU ms/saga | ratio | DB ceiling sagas/s | ratio |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for n in &new {
        let Some(o) = old.iter().find(|o| o.concurrency == n.concurrency) else {
            continue;
        };
        let (ceiling, ceiling_ratio) = match (o.ceiling_per_s, n.ceiling_per_s) {
            (Some(a), Some(b)) => (format!("{a:.0} → {b:.0}"), ratio(b, a)),
            _ => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {:.0} → {:.0} | {} | {:.1} → {:.1} | {} | {:.2} → {:.2} | {} | {:.2} → {:.2} | {} | {} | {} |",
            n.concurrency,
            o.sagas_per_s,
            n.sagas_per_s,
            ratio(n.sagas_per_s, o.sagas_per_s),
            o.p99_ms,
            n.p99_ms,
            ratio(n.p99_ms, o.p99_ms),
            o.cpu_ms_per_saga,
            n.cpu_ms_per_saga,
            ratio(n.cpu_ms_per_saga, o.cpu_ms_per_saga),
            o.database_cpu_ms_per_saga,
            n.database_cpu_ms_per_saga,
            ratio(n.database_cpu_ms_per_saga, o.database_cpu_ms_per_saga),
            ceiling,
            ceiling_ratio,
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(commit: &str, sagas: f64, p99: f64, db: f64, ceiling: f64) -> Value {
        json!({
            "commit": commit,
            "saga": [{"concurrency": 32, "throughput": sagas, "p99_ms": p99,
                      "cpu_ms_per_saga": {"database": db, "orders-api": 1.0}}],
            "ceiling": [{"concurrency": 32, "throughput": ceiling}],
        })
    }

    #[test]
    fn levels_are_matched_and_ratios_are_head_over_base() {
        let base = report("aaa", 400.0, 100.0, 2.0, 800.0);
        let head = report("bbb", 600.0, 50.0, 1.0, 1200.0);
        let f = figures(&head);
        assert_eq!(f.len(), 1);
        assert!((f[0].cpu_ms_per_saga - 2.0).abs() < 1e-9);
        assert_eq!(f[0].ceiling_per_s, Some(1200.0));
        let md = markdown("HEAD~1", &[base], "HEAD", &[head]);
        assert!(md.contains("| 32 | 400 → 600 | 1.50× | 100.0 → 50.0 | 0.50× | 3.00 → 2.00 | 0.67× | 2.00 → 1.00 | 0.50× | 800 → 1200 | 1.50× |"), "{md}");
        assert!(md.contains("`HEAD~1` (aaa)"));
    }

    #[test]
    fn a_level_measured_by_one_side_only_is_left_out() {
        let base = report("a", 400.0, 100.0, 2.0, 800.0);
        let mut head = report("b", 600.0, 50.0, 1.0, 1200.0);
        head["saga"][0]["concurrency"] = json!(8);
        assert!(!markdown("a", &[base], "b", &[head]).contains("| 8 |"));
    }

    #[test]
    fn runs_of_one_side_are_averaged_level_by_level() {
        let first = figures(&report("a", 600.0, 80.0, 1.0, 1000.0));
        let second = figures(&report("a", 400.0, 120.0, 2.0, 800.0));
        let m = mean(&[first, second]);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].sagas_per_s, m[0].p99_ms), (500.0, 100.0));
        assert_eq!(m[0].ceiling_per_s, Some(900.0));
        assert!((m[0].database_cpu_ms_per_saga - 1.5).abs() < 1e-9);
        let mut other = report("b", 1.0, 1.0, 1.0, 1.0);
        other["saga"][0]["concurrency"] = json!(8);
        let m = mean(&[figures(&report("a", 1.0, 1.0, 1.0, 1.0)), figures(&other)]);
        assert!(m.is_empty(), "a level one run lacks is left out");
    }
}
