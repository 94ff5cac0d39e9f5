//! `make bench-compare`'s last step: two reports of `bench`, side by side.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Prints (and writes, with `--out`) the ratios between two sides' `bench`
/// reports: sagas/s, p99, CPU per saga and the database ceiling at each
/// concurrency both measured, each side the mean of its runs.
#[derive(Parser)]
#[command(name = "compare")]
struct Options {
    /// A report of the base (JSON written by `bench`); repeat for more runs.
    #[arg(long = "base", required = true)]
    base: Vec<PathBuf>,
    /// A report of the head, judged against the base; repeat for more runs.
    #[arg(long = "head", required = true)]
    head: Vec<PathBuf>,
    /// What the base is called in the table (a git ref).
    #[arg(long, default_value = "base")]
    base_name: String,
    /// What the head is called in the table.
    #[arg(long, default_value = "head")]
    head_name: String,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn read(path: &PathBuf) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn main() -> anyhow::Result<()> {
    let o = Options::parse();
    let base = o
        .base
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let head = o
        .head
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let md = bench::compare::markdown(&o.base_name, &base, &o.head_name, &head);
    print!("{md}");
    if let Some(out) = &o.out {
        std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
