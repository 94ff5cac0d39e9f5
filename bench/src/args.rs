//! `--name value` command-line options, with defaults.

use std::{collections::HashMap, str::FromStr};

use anyhow::{anyhow, bail};

pub struct Args(HashMap<String, String>);

impl Args {
    /// Parses `--name value` pairs; `known` lists the accepted names.
    pub fn parse(known: &[&str]) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                bail!(
                    "unexpected argument {flag:?}; options: --{}",
                    known.join(" --")
                );
            };
            if !known.contains(&name) {
                bail!("unknown option --{name}; options: --{}", known.join(" --"));
            }
            let value = it.next().ok_or_else(|| anyhow!("--{name} needs a value"))?;
            map.insert(name.to_owned(), value);
        }
        Ok(Self(map))
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| anyhow!("--{name} {raw:?}: {e}")),
        }
    }

    /// A comma-separated list.
    pub fn list<T: FromStr + Clone>(&self, name: &str, default: &[T]) -> anyhow::Result<Vec<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.get(name) {
            None => Ok(default.to_vec()),
            Some(raw) => raw
                .split(',')
                .map(|v| v.trim().parse().map_err(|e| anyhow!("--{name} {v:?}: {e}")))
                .collect(),
        }
    }
}
