//! Every setting is declared once: each variable the services read is in
//! `.env.example` and in the configuration table of `docs/operations.md`, and each one
//! listed there is read somewhere (the code, docker-compose or a script).

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Names in `"..."` right after one of `calls` and `(` (whitespace allowed).
fn names_after(text: &str, calls: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for call in calls {
        for (at, _) in text.match_indices(&format!("{call}(")) {
            let rest = text[at + call.len() + 1..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with('"') {
                names.insert(name);
            }
        }
    }
    names
}

/// The services' own source files (their `src/`, with the kit's and its
/// test harness; not the bench).
fn service_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in [
        "kit/identity",
        "kit/runtime",
        "kit/client",
        "kit/server",
        "kit/testing",
        "customers-api",
        "orders-api",
        "orchestrator-lambda",
    ] {
        rust_files(&root().join(krate).join("src"), &mut files);
    }
    files
}

/// The variables the services' own code reads.
fn read_by_code() -> BTreeSet<String> {
    let files = service_sources();
    let calls = [
        "required",
        "optional",
        "optional_url",
        "parsed_in",
        "parsed_or",
        "secs_in",
        "millis_in",
        "env::var",
        "env::var_os",
    ];
    let mut names = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        names.extend(names_after(&text, &calls));
    }
    // Read by `tracing_subscriber::EnvFilter::from_default_env`.
    names.insert("RUST_LOG".into());
    names
}

/// `NAME=value` lines of `.env.example`, and `# NAME=` for a variable that
/// is documented there but best left unset.
fn env_example() -> BTreeSet<String> {
    let text = fs::read_to_string(root().join(".env.example")).expect(".env.example");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.trim_start_matches('#').trim().to_owned())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// The first column of the configuration table (`docs/operations.md`).
fn readme_table() -> BTreeSet<String> {
    let text = fs::read_to_string(root().join("docs/operations.md")).expect("docs/operations.md");
    let section = text
        .split("\n## Configuration")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Configuration section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Variables that docker-compose, the scripts (shell and Python) and the
/// Makefile read.
fn read_by_tools() -> String {
    let mut text = String::new();
    for file in ["docker-compose.yml", "Makefile"] {
        text += &fs::read_to_string(root().join(file)).unwrap_or_default();
    }
    if let Ok(entries) = fs::read_dir(root().join("scripts")) {
        for entry in entries.flatten() {
            text += &fs::read_to_string(entry.path()).unwrap_or_default();
        }
    }
    text
}

#[test]
fn every_variable_the_code_reads_is_documented_in_both_places() {
    let (example, table) = (env_example(), readme_table());
    for name in read_by_code() {
        assert!(
            example.contains(&name),
            "{name} is read but not in .env.example"
        );
        assert!(
            table.contains(&name),
            "{name} is read but not in the configuration table of docs/operations.md"
        );
    }
}

/// The services' own code, as text.
fn code_text() -> String {
    service_sources()
        .iter()
        .map(|f| fs::read_to_string(f).unwrap_or_default())
        .collect()
}

#[test]
fn every_documented_variable_is_read_somewhere() {
    let code = read_by_code();
    let tools = read_by_tools();
    for name in env_example().union(&readme_table()) {
        // A family (`SERVICE_TOKENS_<NAME>`) is read by its prefix.
        if let Some(prefix) = name.strip_suffix("<NAME>") {
            assert!(
                code_text().contains(&format!("strip_prefix(\"{prefix}\")")),
                "{name} is documented but nothing reads its prefix"
            );
            continue;
        }
        // Shell reads `$NAME` / `${NAME...}`; the Python scripts `"NAME"`.
        let read = code.contains(name)
            || tools.contains(&format!("${{{name}"))
            || tools.contains(&format!("${name}"))
            || tools.contains(&format!("\"{name}\""));
        assert!(read, "{name} is documented but nothing reads it");
    }
}

#[test]
fn the_scanner_finds_calls_across_lines() {
    let text = "secs_in(\n    \"A_B\",\n 1)\noptional(\"C\") required(x) parsed_in(\"lower\")";
    let names = names_after(text, &["secs_in", "optional", "required", "parsed_in"]);
    assert_eq!(names, ["A_B", "C"].map(String::from).into());
}
