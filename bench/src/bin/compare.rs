//! `make bench-compare`'s last step: two reports of `bench`, side by side.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Prints (and writes, with `--out`) the ratios between two `bench` reports:
/// sagas/s, p99, CPU per saga and the database ceiling at each concurrency
/// both measured.
#[derive(Parser)]
#[command(name = "compare")]
struct Options {
    /// The base report (JSON written by `bench`).
    base: PathBuf,
    /// The report to judge against it.
    head: PathBuf,
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
    let md = bench::compare::markdown(&o.base_name, &read(&o.base)?, &o.head_name, &read(&o.head)?);
    print!("{md}");
    if let Some(out) = &o.out {
        std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
