//! Sweeps: a grid of runs of one `mslab` subcommand from a sweep file, each run in its own
//! directory; finished runs are skipped, so a killed sweep resumes where it stopped.
//!
//! ```toml
//! command = "simulate"            # simulate, critical, igo or train: any subcommand with --out
//! [args]                          # fixed flags: --landscape … --steps 2000 (bool true = --flag)
//! landscape = "landscapes/quadratic-4d.toml"
//! optimizer = "shb"
//! steps = 2000
//! burn_in = 500                   # underscores become hyphens: --burn-in
//! seeds = 50
//! [grid]                          # one list per flag: the runs are the cartesian product
//! lr = [0.001, 0.01]
//! beta = [0.0, 0.9]
//! ```
//!
//! and, at the top level, `seeds = [0, 1, 2]` (or `seeds = 3`, meaning 0, 1, 2): the values of
//! `--seed` (`seed_flag` names another flag), one run each for every grid point.
//!
//! Each run is `mslab <command> <args> <grid values> --seed s --out OUT/<id>` in a child process.
//! `<id>` is readable and deterministic: the grid values (`beta=0.9_lr=0.01_seed=1`) and an FNV
//! hash of the whole argument list, so a changed fixed argument gives new directories instead of
//! silently reusing old results. A run is complete when its directory holds a `summary.json`
//! that parses (the subcommands write it atomically and last), so resuming never reruns a
//! complete run and never trusts a half-written one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::output::{write_csv, write_json, Provenance};

/// Subcommands a sweep may run (each takes `--out DIR` and writes `DIR/summary.json` last).
pub const COMMANDS: [&str; 4] = ["simulate", "critical", "igo", "train"];
/// Top-level keys of a sweep file.
pub const KEYS: [&str; 7] = [
    "name",
    "description",
    "command",
    "args",
    "grid",
    "seeds",
    "seed_flag",
];
/// The most runs one sweep file may describe.
pub const MAX_RUNS: usize = 100_000;
/// The most values one grid list may hold.
pub const MAX_VALUES: usize = 10_000;
/// Flags the sweep sets itself or that would stop a run from producing results.
pub const RESERVED: [&str; 3] = ["out", "help", "version"];
/// Environment variable the sweep sets in each child: its own process id. A child whose parent
/// changes (the sweep was killed) exits at once, so a killed sweep leaves no run behind.
pub const PARENT_ENV: &str = "MSLAB_SWEEP_PARENT";
/// The file whose presence marks a run complete.
pub const SUMMARY: &str = "summary.json";

/// One value of a flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ArgValue {
    /// A string (a path, an optimizer name, …).
    Str(String),
    /// An integer.
    Int(i64),
    /// A finite number.
    Float(f64),
    /// A switch: true passes `--flag`, false omits it.
    Bool(bool),
    /// A list, passed comma-separated (`batches = [1, 2, 4]` gives `--batches 1,2,4`).
    List(Vec<String>),
}

impl ArgValue {
    fn from_toml(field: &str, v: &toml::Value) -> Result<Self> {
        Ok(match v {
            toml::Value::String(s) => {
                if s.is_empty() || s.contains('\0') {
                    return Err(Error::invalid(field, "\"\"", "a non-empty string"));
                }
                ArgValue::Str(s.clone())
            }
            toml::Value::Integer(i) => ArgValue::Int(*i),
            toml::Value::Float(f) if f.is_finite() => ArgValue::Float(*f),
            toml::Value::Float(f) => {
                return Err(Error::invalid(field, f, "a finite number"));
            }
            toml::Value::Boolean(b) => ArgValue::Bool(*b),
            toml::Value::Array(a) if !a.is_empty() && a.len() <= MAX_VALUES => {
                let mut items = Vec::with_capacity(a.len());
                for x in a {
                    match ArgValue::from_toml(field, x)? {
                        ArgValue::Bool(_) | ArgValue::List(_) => {
                            return Err(Error::invalid(
                                field,
                                one_line(&x.to_string()),
                                "a list of strings or numbers (passed comma-separated)",
                            ))
                        }
                        v => items.push(v.render().unwrap_or_default()),
                    }
                }
                ArgValue::List(items)
            }
            other => {
                return Err(Error::invalid(
                    field,
                    one_line(&other.to_string()),
                    "a string, a number, a boolean or a non-empty list of strings or numbers",
                ))
            }
        })
    }

    /// The command-line text of the value (None for a switch).
    pub fn render(&self) -> Option<String> {
        match self {
            ArgValue::Str(s) => Some(s.clone()),
            ArgValue::Int(i) => Some(i.to_string()),
            ArgValue::Float(f) => Some(f.to_string()),
            ArgValue::Bool(_) => None,
            ArgValue::List(v) => Some(v.join(",")),
        }
    }

    fn label(&self) -> String {
        match self {
            ArgValue::Str(s) => Path::new(s)
                .file_stem()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| s.clone()),
            ArgValue::Bool(b) => b.to_string(),
            other => other.render().unwrap_or_default(),
        }
    }

    fn push_argv(&self, flag: &str, argv: &mut Vec<String>) {
        match self {
            ArgValue::Bool(true) => argv.push(format!("--{flag}")),
            ArgValue::Bool(false) => {}
            other => {
                argv.push(format!("--{flag}"));
                argv.push(other.render().unwrap_or_default());
            }
        }
    }
}

/// A parsed, validated sweep file.
#[derive(Debug, Clone, Serialize)]
pub struct SweepFile {
    /// Optional display name.
    pub name: Option<String>,
    /// The subcommand each run executes.
    pub command: String,
    /// Fixed flags (hyphenated names), in name order.
    pub args: Vec<(String, ArgValue)>,
    /// Grid flags and their values, in name order (the cartesian product gives the runs).
    pub grid: Vec<(String, Vec<ArgValue>)>,
    /// Values of the seed flag (one run each per grid point); empty: no seed flag is passed.
    pub seeds: Vec<u64>,
    /// The flag the seeds are passed to (default `seed`).
    pub seed_flag: String,
}

/// One run of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct RunSpec {
    /// Position in the sweep's order (grid odometer, last flag fastest, seeds innermost).
    pub index: usize,
    /// Directory name under the sweep's output folder.
    pub id: String,
    /// The grid values of this run (flag, value as passed).
    pub params: Vec<(String, String)>,
    /// The argument list after `mslab`, without `--out` and `--device`.
    pub argv: Vec<String>,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn flag_name(section: &str, key: &str) -> Result<String> {
    let ok = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && key.len() <= 64;
    let field = if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    };
    if !ok {
        return Err(Error::invalid(
            field,
            "(flag name)",
            "a flag name of lowercase letters, digits, '_' and '-', starting with a letter",
        ));
    }
    let flag = key.replace('_', "-");
    if RESERVED.contains(&flag.as_str()) {
        return Err(Error::invalid(
            field,
            "(reserved)",
            format!(
                "any flag but {} (the sweep sets --out to the run's directory)",
                RESERVED.join(", ")
            ),
        ));
    }
    Ok(flag)
}

impl SweepFile {
    /// Read and parse a sweep file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::File {
            path: path.display().to_string(),
            message: format!("cannot read sweep file: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::File {
            path: path.display().to_string(),
            message: "not a valid sweep file: not UTF-8 text".into(),
        })?;
        Self::parse(&text).map_err(|e| match e {
            Error::File { message, .. } => Error::File {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parse and validate TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::File {
            path: "<sweep>".into(),
            message: format!(
                "not a valid sweep file (expected TOML with command, [args], [grid], seeds): {}",
                one_line(&e.to_string())
            ),
        })?;
        for key in table.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::invalid(
                    key.as_str(),
                    "(unknown key)",
                    format!("one of: {}", KEYS.join(", ")),
                ));
            }
        }
        let name = match table.get("name") {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(Error::invalid("name", one_line(&v.to_string()), "a string")),
        };
        if let Some(v) = table.get("description") {
            if !v.is_str() {
                return Err(Error::invalid(
                    "description",
                    one_line(&v.to_string()),
                    "a string",
                ));
            }
        }
        let command = match table.get("command") {
            Some(toml::Value::String(s)) if COMMANDS.contains(&s.as_str()) => s.clone(),
            Some(v) => {
                let shown = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| one_line(&v.to_string()));
                return Err(Error::invalid(
                    "command",
                    shown,
                    format!("one of: {}", COMMANDS.join(", ")),
                ));
            }
            None => {
                return Err(Error::invalid(
                    "command",
                    "(missing)",
                    format!("one of: {} (required)", COMMANDS.join(", ")),
                ))
            }
        };
        let empty = toml::Table::new();
        let section = |key: &str| -> Result<&toml::Table> {
            match table.get(key) {
                None => Ok(&empty),
                Some(toml::Value::Table(t)) => Ok(t),
                Some(v) => Err(Error::invalid(
                    key,
                    one_line(&v.to_string()),
                    format!("a table [{key}] of flag = value"),
                )),
            }
        };
        let mut args = Vec::new();
        for (key, v) in section("args")? {
            let flag = flag_name("args", key)?;
            args.push((flag, ArgValue::from_toml(&format!("args.{key}"), v)?));
        }
        let mut grid = Vec::new();
        for (key, v) in section("grid")? {
            let flag = flag_name("grid", key)?;
            let field = format!("grid.{key}");
            let list = match v {
                toml::Value::Array(a) if !a.is_empty() && a.len() <= MAX_VALUES => a,
                toml::Value::Array(a) => {
                    return Err(Error::invalid(
                        field,
                        format!("{} values", a.len()),
                        format!("a list of 1 to {MAX_VALUES} values"),
                    ))
                }
                other => {
                    return Err(Error::invalid(
                        field,
                        one_line(&other.to_string()),
                        "a list of values, e.g. [0.01, 0.1]",
                    ))
                }
            };
            let values = list
                .iter()
                .map(|x| ArgValue::from_toml(&field, x))
                .collect::<Result<Vec<_>>>()?;
            let mut seen = std::collections::BTreeSet::new();
            for x in &values {
                let key = format!("{x:?}");
                if !seen.insert(key) {
                    return Err(Error::invalid(
                        field,
                        x.render().unwrap_or_else(|| x.label()),
                        "distinct values (this one is listed twice)",
                    ));
                }
            }
            if args.iter().any(|(a, _)| *a == flag) {
                return Err(Error::invalid(
                    field,
                    "(also in [args])",
                    "each flag either fixed in [args] or varied in [grid], not both",
                ));
            }
            grid.push((flag, values));
        }
        let seed_flag = match table.get("seed_flag") {
            None => "seed".to_string(),
            Some(toml::Value::String(s)) => flag_name("", s)
                .map_err(|_| Error::invalid("seed_flag", s, "a flag name such as seed"))?,
            Some(v) => {
                return Err(Error::invalid(
                    "seed_flag",
                    one_line(&v.to_string()),
                    "a flag name such as seed",
                ))
            }
        };
        let seeds: Vec<u64> = match table.get("seeds") {
            None => Vec::new(),
            Some(toml::Value::Integer(n)) if (1..=MAX_VALUES as i64).contains(n) => {
                (0..*n as u64).collect()
            }
            Some(toml::Value::Array(a)) if !a.is_empty() && a.len() <= MAX_VALUES => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    match v {
                        toml::Value::Integer(i) if *i >= 0 && !out.contains(&(*i as u64)) => {
                            out.push(*i as u64)
                        }
                        other => {
                            return Err(Error::invalid(
                                "seeds",
                                one_line(&other.to_string()),
                                "distinct integers >= 0 (the values of --seed)",
                            ))
                        }
                    }
                }
                out
            }
            Some(v) => {
                return Err(Error::invalid(
                    "seeds",
                    one_line(&v.to_string()),
                    format!(
                        "a count in [1, {MAX_VALUES}] or a list of distinct integers >= 0 (the values of --seed)"
                    ),
                ))
            }
        };
        if !seeds.is_empty()
            && (args.iter().any(|(a, _)| *a == seed_flag)
                || grid.iter().any(|(a, _)| *a == seed_flag))
        {
            return Err(Error::invalid(
                "seeds",
                format!("(with --{seed_flag} in [args] or [grid])"),
                format!("either seeds = [..] or {seed_flag} in [args]/[grid], not both"),
            ));
        }
        let mut n_runs = seeds.len().max(1);
        for (flag, values) in &grid {
            n_runs = match n_runs.checked_mul(values.len()) {
                Some(n) if n <= MAX_RUNS => n,
                _ => {
                    return Err(Error::invalid(
                        format!("grid.{flag}"),
                        "(too many runs)",
                        format!("at most {MAX_RUNS} runs in one sweep file (product of the grid lists and seeds)"),
                    ))
                }
            };
        }
        Ok(Self {
            name,
            command,
            args,
            grid,
            seeds,
            seed_flag,
        })
    }

    /// Number of runs.
    pub fn n_runs(&self) -> usize {
        self.grid.iter().map(|(_, v)| v.len()).product::<usize>() * self.seeds.len().max(1)
    }

    /// Every run, in the sweep's order.
    pub fn runs(&self) -> Vec<RunSpec> {
        let n = self.n_runs();
        let n_seeds = self.seeds.len().max(1);
        let mut runs = Vec::with_capacity(n);
        for index in 0..n {
            let mut rest = index / n_seeds;
            let seed = self.seeds.get(index % n_seeds);
            let mut picks = vec![0usize; self.grid.len()];
            for (j, (_, values)) in self.grid.iter().enumerate().rev() {
                picks[j] = rest % values.len();
                rest /= values.len();
            }
            let mut argv = vec![self.command.clone()];
            for (flag, v) in &self.args {
                v.push_argv(flag, &mut argv);
            }
            let mut params = Vec::new();
            let mut labels = Vec::new();
            for ((flag, values), &p) in self.grid.iter().zip(&picks) {
                let v = &values[p];
                v.push_argv(flag, &mut argv);
                params.push((flag.clone(), v.render().unwrap_or_else(|| v.label())));
                labels.push(format!("{flag}={}", sanitize(&v.label())));
            }
            if let Some(s) = seed {
                argv.push(format!("--{}", self.seed_flag));
                argv.push(s.to_string());
                params.push((self.seed_flag.clone(), s.to_string()));
                labels.push(format!("{}={s}", self.seed_flag));
            }
            let mut readable = labels.join("_");
            if readable.is_empty() {
                readable = "run".into();
            }
            if readable.len() > 120 {
                let mut cut = 120;
                while !readable.is_char_boundary(cut) {
                    cut -= 1;
                }
                readable.truncate(cut);
            }
            let id = format!("{readable}__{:08x}", fnv1a(&argv) as u32);
            runs.push(RunSpec {
                index,
                id,
                params,
                argv,
            });
        }
        runs
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// FNV-1a over the arguments (stable across platforms and Rust versions, unlike `Hash`).
pub fn fnv1a(argv: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in argv {
        for b in a.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Which part of the runs this process executes: runs whose index ≡ `index` (mod `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// i, in [0, n).
    pub index: usize,
    /// n ≥ 1.
    pub count: usize,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parse `i/n` (0 ≤ i < n ≤ 4096).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::invalid("shard", s, "i/n with integers 0 <= i < n <= 4096, e.g. 0/4");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || i >= n || n > 4096 {
            return Err(bad());
        }
        Ok(Shard { index: i, count: n })
    }

    /// Whether run `index` belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Not run yet.
    Pending,
    /// Running now.
    Running,
    /// Ran in this invocation and wrote its summary.
    Complete,
    /// Already complete before this invocation (not rerun).
    Skipped,
    /// Complete, but every seed diverged (no statistics).
    Diverged,
    /// Exited with an error or without a summary; rerun on the next invocation.
    Failed,
}

/// One row of the sweep index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexRow {
    /// Run position in the sweep.
    pub index: usize,
    /// Directory name.
    pub id: String,
    /// Status.
    pub status: RunStatus,
    /// Exit code of the child (None: not run here, or killed by a signal).
    pub exit_code: Option<i32>,
    /// Wall time of the child.
    pub elapsed_s: Option<f64>,
    /// Seeds the run reports (from its summary).
    pub seeds: Option<u64>,
    /// Seeds that diverged (from its summary; excluded from its statistics).
    pub diverged_seeds: Option<u64>,
    /// First step at which a seed diverged.
    pub first_divergence_step: Option<u64>,
    /// Device passed with --device.
    pub device: Option<String>,
    /// The last line of the run's stderr when it failed.
    pub error: Option<String>,
    /// Grid values.
    pub params: Vec<(String, String)>,
    /// Full argument list after `mslab`, --out and --device included.
    pub argv: Vec<String>,
}

/// How to execute a sweep.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The `mslab` executable.
    pub exe: PathBuf,
    /// Output folder (one subfolder per run, plus the index).
    pub out: PathBuf,
    /// Runs at once.
    pub jobs: usize,
    /// Part of the sweep to run.
    pub shard: Shard,
    /// Devices, assigned to job slots round-robin (`--device` passed when non-empty).
    pub devices: Vec<String>,
    /// RAYON_NUM_THREADS for each child (None: leave the environment alone).
    pub threads_per_run: Option<usize>,
    /// The sweep file (recorded in the index).
    pub sweep_path: PathBuf,
    /// Its text (recorded in the index, so the index alone reruns the sweep).
    pub sweep_text: String,
}

/// What a sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every run of the shard, in order.
    pub rows: Vec<IndexRow>,
    /// The index file written.
    pub index_path: PathBuf,
}

impl Report {
    /// Count of rows with this status.
    pub fn count(&self, s: RunStatus) -> usize {
        self.rows.iter().filter(|r| r.status == s).count()
    }
}

/// Summary of a finished run, if its directory holds a complete one.
pub fn completed_summary(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(SUMMARY)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.is_object().then_some(v)
}

fn summary_field(v: &Value, key: &str) -> Option<u64> {
    v.get("summary")
        .and_then(|s| s.get(key))
        .or_else(|| v.get(key))
        .and_then(Value::as_u64)
}

fn fill_from_summary(row: &mut IndexRow, v: &Value) {
    row.seeds = summary_field(v, "seeds");
    row.diverged_seeds = summary_field(v, "diverged");
    row.first_divergence_step = summary_field(v, "first_divergence_step");
    if let (Some(s), Some(d)) = (row.seeds, row.diverged_seeds) {
        if s > 0 && d == s {
            row.status = RunStatus::Diverged;
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// File name of the index for a shard.
pub fn index_name(shard: Shard, ext: &str) -> String {
    if shard.count == 1 {
        format!("index.{ext}")
    } else {
        format!("index.shard-{}-of-{}.{ext}", shard.index, shard.count)
    }
}

fn write_index(opts: &ExecOptions, sweep: &SweepFile, rows: &[IndexRow]) -> Result<PathBuf> {
    let json_path = opts.out.join(index_name(opts.shard, "json"));
    let count = |s: RunStatus| rows.iter().filter(|r| r.status == s).count();
    write_json(
        &json_path,
        &json!({
            "provenance": Provenance::collect(),
            "sweep_file": opts.sweep_path.display().to_string(),
            "sweep_text": opts.sweep_text,
            "sweep": sweep,
            "shard": opts.shard,
            "jobs": opts.jobs,
            "devices": opts.devices,
            "counts": {
                "runs": rows.len(),
                "complete": count(RunStatus::Complete) + count(RunStatus::Skipped),
                "diverged": count(RunStatus::Diverged),
                "failed": count(RunStatus::Failed),
                "pending": count(RunStatus::Pending) + count(RunStatus::Running),
            },
            "runs": rows,
        }),
    )?;
    let csv_rows = rows.iter().map(|r| {
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        vec![
            r.index.to_string(),
            r.id.clone(),
            serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            r.elapsed_s.map(|c| format!("{c:.3}")).unwrap_or_default(),
            opt(r.seeds),
            opt(r.diverged_seeds),
            opt(r.first_divergence_step),
            r.device.clone().unwrap_or_default(),
            r.error.clone().unwrap_or_default(),
            r.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ]
    });
    write_csv(
        &opts.out.join(index_name(opts.shard, "csv")),
        &[
            "index",
            "id",
            "status",
            "exit_code",
            "elapsed_s",
            "seeds",
            "diverged_seeds",
            "first_divergence_step",
            "device",
            "error",
            "params",
        ],
        csv_rows,
    )?;
    Ok(json_path)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Remove what a killed run may have left: temporary files of atomic writes (`.NAME.tmp.PID`)
/// whose writer is gone. Waits (up to 10 s) for a previous child still running in `dir`.
fn prepare_run_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let marker = dir.join(".running");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        if let Ok(pid) = text.trim().parse::<u32>() {
            let start = Instant::now();
            while pid_alive(pid) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    remove_stale_temps(dir);
    Ok(())
}

/// Remove temporary files of atomic writes (`.NAME.tmp.PID`, see `output::write_atomic`) whose
/// writing process is gone: what a kill in the middle of a write leaves behind.
fn remove_stale_temps(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') && name.contains(".tmp.") {
                let pid = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
                if pid.is_none_or(|p| !pid_alive(p)) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}

fn run_one(spec: &RunSpec, opts: &ExecOptions, slot: usize, row: &mut IndexRow) -> Result<()> {
    let dir = opts.out.join(&spec.id);
    prepare_run_dir(&dir)?;
    let mut argv = spec.argv.clone();
    argv.push("--out".into());
    argv.push(dir.display().to_string());
    if !opts.devices.is_empty() {
        let dev = opts.devices[slot % opts.devices.len()].clone();
        argv.push("--device".into());
        argv.push(dev.clone());
        row.device = Some(dev);
    }
    row.argv = argv.clone();
    let stdout_path = dir.join("stdout.log");
    let stderr_path = dir.join("stderr.log");
    let stdout = std::fs::File::create(&stdout_path).map_err(io_err(&stdout_path))?;
    let stderr = std::fs::File::create(&stderr_path).map_err(io_err(&stderr_path))?;
    let mut cmd = Command::new(&opts.exe);
    cmd.args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .env(PARENT_ENV, std::process::id().to_string());
    if let Some(t) = opts.threads_per_run {
        cmd.env("RAYON_NUM_THREADS", t.to_string());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(io_err(&opts.exe))?;
    let marker = dir.join(".running");
    let _ = std::fs::write(&marker, child.id().to_string());
    let status = child.wait().map_err(io_err(&opts.exe));
    let _ = std::fs::remove_file(&marker);
    let status = status?;
    row.elapsed_s = Some(started.elapsed().as_secs_f64());
    row.exit_code = status.code();
    match (status.success(), completed_summary(&dir)) {
        (true, Some(v)) => {
            row.status = RunStatus::Complete;
            row.error = None;
            fill_from_summary(row, &v);
        }
        (true, None) => {
            row.status = RunStatus::Failed;
            row.error = Some(format!("exited 0 but wrote no valid {SUMMARY}"));
        }
        (false, _) => {
            row.status = RunStatus::Failed;
            row.error = Some(
                last_line(&stderr_path).unwrap_or_else(|| match status.code() {
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".into(),
                }),
            );
        }
    }
    Ok(())
}

/// Execute the runs of `opts.shard`: skip complete ones, run the rest `opts.jobs` at a time,
/// keep going after failures, and keep the index up to date (atomically).
pub fn execute(sweep: &SweepFile, opts: &ExecOptions, bar: &ProgressBar) -> Result<Report> {
    if opts.jobs == 0 {
        return Err(Error::invalid("jobs", 0, "an integer >= 1"));
    }
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    remove_stale_temps(&opts.out);
    let specs: Vec<RunSpec> = sweep
        .runs()
        .into_iter()
        .filter(|r| opts.shard.contains(r.index))
        .collect();
    let mut rows: Vec<IndexRow> = specs
        .iter()
        .map(|s| IndexRow {
            index: s.index,
            id: s.id.clone(),
            status: RunStatus::Pending,
            exit_code: None,
            elapsed_s: None,
            seeds: None,
            diverged_seeds: None,
            first_divergence_step: None,
            device: None,
            error: None,
            params: s.params.clone(),
            argv: s.argv.clone(),
        })
        .collect();
    let mut todo = Vec::new();
    for (k, s) in specs.iter().enumerate() {
        let dir = opts.out.join(&s.id);
        if let Some(v) = completed_summary(&dir) {
            // Complete before a kill that left its marker or a temporary file: tidy up.
            let marker = dir.join(".running");
            if let Ok(text) = std::fs::read_to_string(&marker) {
                if text.trim().parse::<u32>().map_or(true, |p| !pid_alive(p)) {
                    let _ = std::fs::remove_file(&marker);
                }
            }
            remove_stale_temps(&dir);
            rows[k].status = RunStatus::Skipped;
            fill_from_summary(&mut rows[k], &v);
            bar.inc(1);
        } else {
            todo.push(k);
        }
    }
    let index_path = write_index(opts, sweep, &rows)?;
    struct Shared {
        rows: Vec<IndexRow>,
        last_write: Instant,
        error: Option<Error>,
    }
    let shared = Mutex::new(Shared {
        rows,
        last_write: Instant::now(),
        error: None,
    });
    let next = AtomicUsize::new(0);
    let small = specs.len() <= 500;
    std::thread::scope(|scope| {
        for slot in 0..opts.jobs.min(todo.len().max(1)) {
            let (shared, next, todo, specs) = (&shared, &next, &todo, &specs);
            scope.spawn(move || loop {
                let j = next.fetch_add(1, Ordering::SeqCst);
                let Some(&k) = todo.get(j) else { break };
                let mut row = match shared.lock() {
                    Ok(mut g) => {
                        if g.error.is_some() {
                            break;
                        }
                        g.rows[k].status = RunStatus::Running;
                        g.rows[k].clone()
                    }
                    Err(_) => break,
                };
                bar.set_message(specs[k].id.clone());
                let outcome = run_one(&specs[k], opts, slot, &mut row);
                let Ok(mut g) = shared.lock() else { break };
                match outcome {
                    Ok(()) => {
                        if row.status == RunStatus::Failed {
                            bar.println(format!(
                                "failed: {} (exit {}): {}",
                                row.id,
                                row.exit_code
                                    .map(|c| c.to_string())
                                    .unwrap_or_else(|| "signal".into()),
                                row.error.clone().unwrap_or_default()
                            ));
                        }
                        g.rows[k] = row;
                    }
                    Err(e) => {
                        // An I/O failure of the sweep itself (not of a run): stop cleanly.
                        g.rows[k].status = RunStatus::Pending;
                        g.error = Some(e);
                        break;
                    }
                }
                bar.inc(1);
                if small || g.last_write.elapsed() > Duration::from_secs(2) {
                    if let Err(e) = write_index(opts, sweep, &g.rows) {
                        g.error = Some(e);
                        break;
                    }
                    g.last_write = Instant::now();
                }
            });
        }
    });
    let shared = shared
        .into_inner()
        .map_err(|_| Error::Failed("a sweep worker panicked".into()))?;
    let mut rows = shared.rows;
    for r in &mut rows {
        if r.status == RunStatus::Running {
            r.status = RunStatus::Pending;
        }
    }
    write_index(opts, sweep, &rows)?;
    if let Some(e) = shared.error {
        return Err(e);
    }
    Ok(Report { rows, index_path })
}

/// The sweep's outcome as text: counts, then every diverged and failed run.
pub fn describe(report: &Report, sweep: &SweepFile, opts: &ExecOptions) -> String {
    let mut s = String::new();
    let c = |st| report.count(st);
    let n = report.rows.len();
    s.push_str(&format!(
        "sweep {} ({}): {n} runs{}: {} complete ({} ran now, {} already complete), {} diverged, {} failed, {} not run\n",
        opts.sweep_path.display(),
        sweep.command,
        if opts.shard.count > 1 {
            format!(" in shard {}/{}", opts.shard.index, opts.shard.count)
        } else {
            String::new()
        },
        c(RunStatus::Complete) + c(RunStatus::Skipped),
        c(RunStatus::Complete),
        c(RunStatus::Skipped),
        c(RunStatus::Diverged),
        c(RunStatus::Failed),
        c(RunStatus::Pending) + c(RunStatus::Running),
    ));
    let mut by_kind: BTreeMap<u8, Vec<String>> = BTreeMap::new();
    for r in &report.rows {
        match (r.status, r.diverged_seeds, r.seeds) {
            (RunStatus::Diverged, _, _) => by_kind.entry(0).or_default().push(format!(
                "  {}: all {} seeds diverged (first at step {})",
                r.id,
                r.seeds.unwrap_or(0),
                r.first_divergence_step
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into())
            )),
            (RunStatus::Failed, _, _) => by_kind.entry(2).or_default().push(format!(
                "  {} (exit {}): {}   [log: {}]",
                r.id,
                r.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "signal".into()),
                r.error.clone().unwrap_or_default(),
                opts.out.join(&r.id).join("stderr.log").display()
            )),
            (_, Some(d), Some(seeds)) if d > 0 => by_kind.entry(1).or_default().push(format!(
                "  {}: {d} of {seeds} seeds diverged (excluded from its statistics)",
                r.id
            )),
            _ => {}
        }
    }
    let titles = [
        "diverged runs (every seed non-finite; complete, not rerun):",
        "runs with some diverged seeds:",
        "failed runs (rerun on the next invocation):",
    ];
    for (k, lines) in by_kind {
        s.push_str(titles[k as usize]);
        s.push('\n');
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
    }
    s.push_str(&format!("index: {}\n", report.index_path.display()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "command = \"simulate\"\nseeds = [3, 1]\n[args]\nlandscape = \"landscapes/q.toml\"\nburn_in = 10\njson = true\nforce = false\n[grid]\nlr = [0.01, 0.1]\nbeta = [0.0, 0.5, 0.9]\n";

    #[test]
    fn grid_is_the_cartesian_product_with_stable_ids() {
        let s = SweepFile::parse(GOOD).unwrap();
        let runs = s.runs();
        assert_eq!(runs.len(), 12);
        let ids: std::collections::BTreeSet<_> = runs.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), 12);
        assert!(
            runs[0].id.starts_with("beta=0_lr=0.01_seed=3__"),
            "{}",
            runs[0].id
        );
        assert_eq!(
            runs[1].argv,
            [
                "simulate",
                "--burn-in",
                "10",
                "--json",
                "--landscape",
                "landscapes/q.toml",
                "--beta",
                "0",
                "--lr",
                "0.01",
                "--seed",
                "1"
            ]
        );
        let again = SweepFile::parse(GOOD).unwrap().runs();
        assert_eq!(runs[5].id, again[5].id);
        let changed = SweepFile::parse(&GOOD.replace("burn_in = 10", "burn_in = 11"))
            .unwrap()
            .runs();
        assert_ne!(
            runs[5].id, changed[5].id,
            "a changed fixed flag changes the directory"
        );
    }

    #[test]
    fn shards_partition_the_runs() {
        let s = SweepFile::parse(GOOD).unwrap();
        let n = s.n_runs();
        let mut seen = vec![0; n];
        for i in 0..5 {
            let sh = Shard::parse(&format!("{i}/5")).unwrap();
            for r in s.runs().iter().filter(|r| sh.contains(r.index)) {
                seen[r.index] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        for bad in ["5/5", "1", "a/b", "0/0", "-1/2", "1/99999"] {
            assert!(Shard::parse(bad).unwrap_err().to_string().contains("shard"));
        }
    }
}
