//! The benchmark report: JSON for machines, Markdown for people, and an SVG
//! plot of throughput and p99 against concurrency.

use std::{collections::BTreeMap, fmt::Write as _, path::Path, process::Command};

use serde::Serialize;

use crate::load::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub database: String,
    pub innodb_flush_log_at_trx_commit: String,
}

impl Machine {
    pub fn describe(database: String, flush: String) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let kernel = Command::new("uname")
            .arg("-r")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel,
            database,
            innodb_flush_log_at_trx_commit: flush,
        }
    }
}

/// The full stack at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    #[serde(flatten)]
    pub summary: Summary,
    /// Peak RSS (KiB) of each process after this level.
    pub peak_rss_kib: BTreeMap<String, u64>,
    /// CPU milliseconds per saga, by process.
    pub cpu_ms_per_saga: BTreeMap<String, f64>,
    /// Function instances alive at the end of the level.
    pub instances: usize,
}

impl Level {
    /// CPU milliseconds per saga, all processes together.
    pub fn cpu_total(&self) -> f64 {
        self.cpu_ms_per_saga.values().sum()
    }
}

/// One harness and workload at the compared concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub harness: String,
    pub workload: String,
    pub level: Level,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub commit: String,
    pub machine: Machine,
    pub settings: BTreeMap<String, String>,
    /// The concurrency of the comparisons.
    pub compared_at: usize,
    /// The bench's harness, spread workload, at each concurrency.
    pub saga: Vec<Level>,
    /// The other harnesses and workloads, at `compared_at`.
    pub comparisons: Vec<Comparison>,
    pub ceiling: Vec<Summary>,
    /// The ceiling on the hot product, at `compared_at`.
    pub ceiling_hot: Option<Summary>,
    pub cold_start_ms: Vec<f64>,
    pub trivial_cold_start_ms: Vec<f64>,
    /// CPU milliseconds of one function instance's start, by how it starts.
    pub instance_start_cpu_ms: BTreeMap<String, f64>,
    pub targets: Vec<Target>,
}

fn errors_cell(s: &Summary) -> String {
    if s.errors.is_empty() {
        return "0".into();
    }
    s.errors
        .iter()
        .map(|(k, v)| format!("{v} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table of one value per process (the columns, as `cells` names them
/// for the first level) and one row per concurrency.
fn process_table(
    md: &mut String,
    levels: &[Level],
    cells: impl Fn(&Level) -> Vec<(String, String)>,
) {
    let names: Vec<String> = levels
        .first()
        .map(|l| cells(l).into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "| concurrency | {} |\n|---:|{}",
        names.join(" | "),
        "---:|".repeat(names.len())
    );
    for l in levels {
        let row: BTreeMap<String, String> = cells(l).into_iter().collect();
        let values: Vec<&str> = names
            .iter()
            .map(|n| row.get(n).map_or("-", String::as_str))
            .collect();
        let _ = writeln!(md, "| {} | {} |", l.summary.concurrency, values.join(" | "));
    }
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Report {
    /// The level of `harness` and `workload` at the compared concurrency:
    /// the bench's harness on the spread workload is the saga level.
    pub fn comparison(&self, harness: &str, workload: &str) -> Option<&Level> {
        if (harness, workload) == ("bench", "spread") {
            return self
                .saga
                .iter()
                .find(|l| l.summary.concurrency == self.compared_at);
        }
        self.comparisons
            .iter()
            .find(|c| c.harness == harness && c.workload == workload)
            .map(|c| &c.level)
    }

    /// Every harness and workload at the compared concurrency, with the CPU
    /// per saga of each process.
    fn comparisons_markdown(&self, md: &mut String) {
        let rows = std::iter::once(("bench", "spread")).chain(
            self.comparisons
                .iter()
                .map(|c| (c.harness.as_str(), c.workload.as_str())),
        );
        let levels: Vec<(&str, &str, &Level)> = rows
            .filter_map(|(h, w)| Some((h, w, self.comparison(h, w)?)))
            .collect();
        let Some((_, _, first)) = levels.first() else {
            return;
        };
        let names: Vec<&str> = first.cpu_ms_per_saga.keys().map(String::as_str).collect();
        let _ = writeln!(
            md,
            "\n## Harnesses and workloads at concurrency {c}\n\n\
             CPU per saga (ms) by process. *bench*: one function process per invocation, started \
             by the benchmark; *cargo lambda watch*: `cargo lambda watch --release --concurrency {c}` \
             starts them, as a user runs it. *spread*: a random product of the run's; *hot \
             product*: always the same one.\n\n\
             | harness | workload | instances | sagas/s | p99 ms | errors | {} | total |\n\
             |---|---|---:|---:|---:|---|{}---:|",
            names.join(" | "),
            "---:|".repeat(names.len()),
            c = self.compared_at,
        );
        for (h, w, l) in levels {
            let cells: Vec<String> = names
                .iter()
                .map(|n| {
                    l.cpu_ms_per_saga
                        .get(*n)
                        .map_or("-".into(), |v| format!("{v:.2}"))
                })
                .collect();
            let s = &l.summary;
            let _ = writeln!(
                md,
                "| {h} | {w} | {} | {:.0} | {:.1} | {} | {} | {:.2} |",
                l.instances,
                s.throughput,
                s.p99_ms,
                errors_cell(s),
                cells.join(" | "),
                l.cpu_total()
            );
        }
    }

    pub fn markdown(&self, notes: &str) -> String {
        let mut md = String::new();
        self.header_markdown(&mut md);
        self.targets_markdown(&mut md);
        self.saga_markdown(&mut md);
        self.ceiling_markdown(&mut md);
        self.processes_markdown(&mut md);
        self.comparisons_markdown(&mut md);
        self.cold_start_markdown(&mut md);
        let _ = writeln!(
            md,
            "![throughput and p99 against concurrency]({}.svg)\n",
            self.date
        );
        md.push_str(notes);
        md
    }

    /// The title, the commit, the machine and the settings.
    fn header_markdown(&self, md: &mut String) {
        let m = &self.machine;
        let _ = writeln!(md, "# Saga benchmark, {}\n", self.date);
        let _ = writeln!(
            md,
            "Commit `{}`. Machine: {} ({} cores visible, {} GiB), Linux {}; {} on the same box \
             (`innodb_flush_log_at_trx_commit = {}`). The load generator, the database and every \
             process of the stack share these cores, so figures are for comparison on one machine, \
             not absolutes.\n",
            self.commit,
            m.cpu,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.database,
            m.innodb_flush_log_at_trx_commit
        );
        let _ = writeln!(
            md,
            "Settings: {}\n",
            self.settings
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }

    /// Each target, its goal, what was measured, and whether it was met.
    fn targets_markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "## Targets\n\n| target | goal | measured | met |\n|---|---|---|---|"
        );
        for t in &self.targets {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                t.name,
                t.goal,
                t.measured,
                if t.met { "yes" } else { "**no**" }
            );
        }
    }

    /// The full stack at each concurrency, and its share of the ceiling.
    fn saga_markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n## Full stack: `POST /orchestrator/create-and-confirm-order`\n\n\
             | concurrency | sagas/s | p50 ms | p90 ms | p99 ms | max ms | errors | % of DB ceiling |\n\
             |---:|---:|---:|---:|---:|---:|---|---:|"
        );
        for l in &self.saga {
            let s = &l.summary;
            let ceiling = self
                .ceiling
                .iter()
                .find(|c| c.concurrency == s.concurrency)
                .map_or("-".to_owned(), |c| {
                    format!("{:.0}%", 100.0 * s.throughput / c.throughput.max(1e-9))
                });
            let _ = writeln!(
                md,
                "| {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
                s.concurrency,
                s.throughput,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                errors_cell(s),
                ceiling
            );
        }
    }

    /// The database ceiling at each concurrency (and with the hot product).
    fn ceiling_markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n## Database ceiling: the same SQL, no HTTP\n\n\
             | concurrency | sagas/s | p50 ms | p90 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|---|"
        );
        let ceilings = self
            .ceiling
            .iter()
            .map(|s| (s, ""))
            .chain(self.ceiling_hot.iter().map(|s| (s, " (hot product)")));
        for (s, hot) in ceilings {
            let _ = writeln!(
                md,
                "| {}{hot} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
                s.concurrency,
                s.throughput,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                errors_cell(s)
            );
        }
    }

    /// Peak RSS and CPU per saga of each process, by level.
    fn processes_markdown(&self, md: &mut String) {
        let _ = writeln!(md, "\n## Peak RSS (MiB) after each level\n");
        process_table(md, &self.saga, |l| {
            l.peak_rss_kib
                .iter()
                .map(|(k, v)| (k.clone(), format!("{:.1}", *v as f64 / 1024.0)))
                .collect()
        });
        let _ = writeln!(md, "\n## CPU per saga (ms), by process\n");
        process_table(md, &self.saga, |l| {
            let mut cells: Vec<(String, String)> = l
                .cpu_ms_per_saga
                .iter()
                .map(|(k, v)| (k.clone(), format!("{v:.2}")))
                .collect();
            let total: f64 = l.cpu_ms_per_saga.values().sum();
            cells.push(("total".into(), format!("{total:.2}")));
            cells
        });
    }

    /// Cold starts against the trivial function, and what an instance start costs.
    fn cold_start_markdown(&self, md: &mut String) {
        let all = |v: &[f64]| {
            v.iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "\n## Cold start\n\nProcess start to the first answered invocation, {} runs each: the \
             orchestrator (a full saga) median {:.1} ms (all: {}); a trivial function on the same \
             runtime API, answering at once, median {:.1} ms (all: {}).\n",
            self.cold_start_ms.len(),
            median(&self.cold_start_ms),
            all(&self.cold_start_ms),
            median(&self.trivial_cold_start_ms),
            all(&self.trivial_cold_start_ms),
        );
        if !self.instance_start_cpu_ms.is_empty() {
            let _ = writeln!(
                md,
                "CPU of one instance's start (the median of 3, the function ending at once): {}.\n",
                self.instance_start_cpu_ms
                    .iter()
                    .map(|(k, v)| format!("{k}: {v:.0} ms"))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
    }

    /// Throughput (full stack and ceiling) and p99 against concurrency.
    pub fn svg(&self) -> String {
        let levels: Vec<usize> = self.saga.iter().map(|l| l.summary.concurrency).collect();
        let max_tp = self
            .saga
            .iter()
            .map(|l| l.summary.throughput)
            .chain(self.ceiling.iter().map(|c| c.throughput))
            .fold(1.0, f64::max)
            * 1.1;
        let max_p99 = self
            .saga
            .iter()
            .map(|l| l.summary.p99_ms)
            .fold(1.0, f64::max)
            * 1.1;
        let chart = Chart::new(levels.len(), max_tp, max_p99);
        let mut s = chart.frame(&self.date, &levels);
        let throughput = self.saga.iter().map(|l| l.summary.throughput);
        chart.series(&mut s, chart.points(throughput, Axis::Left), BLUE, "");
        let ceiling: Vec<(f64, f64)> = levels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let found = self.ceiling.iter().find(|s| s.concurrency == *c)?;
                Some((chart.x(i), chart.y(found.throughput, Axis::Left)))
            })
            .collect();
        chart.series(&mut s, ceiling, BLUE, "5,4");
        let p99 = self.saga.iter().map(|l| l.summary.p99_ms);
        chart.series(&mut s, chart.points(p99, Axis::Right), RED, "");
        chart.legend(
            &mut s,
            &[
                (BLUE, "", "full stack, sagas/s"),
                (BLUE, "5,4", "database ceiling, sagas/s"),
                (RED, "", "full stack, p99 ms"),
            ],
        );
        s.push_str("</svg>\n");
        s
    }

    /// Writes `<dir>/<date>.{json,md,svg}`.
    pub fn write(&self, dir: &Path, notes: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join(format!("{}.json", self.date)),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        std::fs::write(dir.join(format!("{}.md", self.date)), self.markdown(notes))?;
        std::fs::write(dir.join(format!("{}.svg", self.date)), self.svg())?;
        Ok(())
    }
}
const BLUE: &str = "#1f77b4";
const RED: &str = "#d62728";

/// Which scale a value is drawn against: throughput on the left, p99 on
/// the right.
#[derive(Clone, Copy)]
enum Axis {
    Left,
    Right,
}

/// The geometry of the benchmark's chart: one column per concurrency level,
/// throughput on the left axis and p99 on the right.
struct Chart {
    w: f64,
    h: f64,
    left: f64,
    top: f64,
    pw: f64,
    ph: f64,
    columns: usize,
    max_left: f64,
    max_right: f64,
}

impl Chart {
    fn new(columns: usize, max_left: f64, max_right: f64) -> Self {
        let (w, h) = (720.0, 400.0);
        let (left, right, top, bottom) = (70.0, 70.0, 40.0, 50.0);
        Self {
            w,
            h,
            left,
            top,
            pw: w - left - right,
            ph: h - top - bottom,
            columns: columns.max(1),
            max_left,
            max_right,
        }
    }

    fn x(&self, column: usize) -> f64 {
        self.left + self.pw * (column as f64 + 0.5) / self.columns as f64
    }

    fn y(&self, v: f64, axis: Axis) -> f64 {
        let max = match axis {
            Axis::Left => self.max_left,
            Axis::Right => self.max_right,
        };
        self.top + self.ph * (1.0 - v / max)
    }

    /// One point per column.
    fn points(&self, values: impl Iterator<Item = f64>, axis: Axis) -> Vec<(f64, f64)> {
        values
            .enumerate()
            .map(|(i, v)| (self.x(i), self.y(v, axis)))
            .collect()
    }

    /// The opening tag, the title, the axes with their ticks and labels.
    fn frame(&self, date: &str, levels: &[usize]) -> String {
        let (w, h, left, top, pw, ph) = (self.w, self.h, self.left, self.top, self.pw, self.ph);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="14">Saga throughput and p99 latency ({date})</text>"#,
            w / 2.0
        );
        for (x1, y1, x2, y2) in [
            (left, top + ph, left + pw, top + ph),
            (left, top, left, top + ph),
            (left + pw, top, left + pw, top + ph),
        ] {
            let _ = writeln!(
                s,
                r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="black"/>"#
            );
        }
        self.ticks(&mut s);
        for (i, c) in levels.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle">{c}</text>"#,
                self.x(i),
                top + ph + 18.0
            );
        }
        self.axis_labels(&mut s);
        s
    }

    /// Five gridlines, each with its throughput (left) and p99 (right).
    fn ticks(&self, s: &mut String) {
        let (left, top, pw, ph) = (self.left, self.top, self.pw, self.ph);
        for t in 0..=4 {
            let f = f64::from(t) / 4.0;
            let yy = top + ph * (1.0 - f);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{yy}" x2="{}" y2="{yy}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end" fill="{BLUE}">{:.0}</text><text x="{}" y="{}" fill="{RED}">{:.1}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0,
                self.max_left * f,
                left + pw + 6.0,
                yy + 4.0,
                self.max_right * f
            );
        }
    }

    fn axis_labels(&self, s: &mut String) {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">concurrency</text>"#,
            self.left + self.pw / 2.0,
            self.h - 10.0
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle" fill="{BLUE}">sagas/s</text>"##,
            self.top + self.ph / 2.0
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate({},{}) rotate(90)" text-anchor="middle" fill="{RED}">p99 ms</text>"##,
            self.w - 14.0,
            self.top + self.ph / 2.0
        );
    }

    /// A line through `points`, with a dot on each.
    fn series(&self, s: &mut String, points: Vec<(f64, f64)>, colour: &str, dash: &str) {
        let path: Vec<String> = points
            .iter()
            .map(|(a, b)| format!("{a:.1},{b:.1}"))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            path.join(" ")
        );
        for (a, b) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{a:.1}" cy="{b:.1}" r="3" fill="{colour}"/>"#
            );
        }
    }

    /// What each line is, top left.
    fn legend(&self, s: &mut String, entries: &[(&str, &str, &str)]) {
        for (i, (colour, dash, label)) in entries.iter().enumerate() {
            let yy = self.top + 12.0 + 16.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{yy}" x2="{}" y2="{yy}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{label}</text>"#,
                self.left + 10.0,
                self.left + 40.0,
                self.left + 46.0,
                yy + 4.0
            );
        }
    }
}
