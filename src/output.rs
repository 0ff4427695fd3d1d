//! Results files: atomic writes and provenance.
//!
//! Every results file is written to a temporary file in the destination folder and renamed into
//! place, so a reader never sees half a file and an interrupted run leaves nothing half-written.
//! Every summary carries [`Provenance`]: git commit and dirty flag, crate version, the libtorch
//! version where one is linked, the device, the command line and its working folder; the
//! results beside it hold the seed and the full configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

/// Where a result came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Crate name and version.
    pub crate_version: String,
    /// `git rev-parse HEAD` of the source tree, or "unknown".
    pub git_commit: String,
    /// Whether the source tree had uncommitted changes (None when unknown).
    pub git_dirty: Option<bool>,
    /// The commit the binary was built from (recorded at compile time by `build.rs`; differs
    /// from `git_commit` when a binary is copied to another machine, e.g. a GPU host).
    pub build_commit: String,
    /// Whether the tree had uncommitted changes when the binary was built (None when unknown).
    pub build_dirty: Option<bool>,
    /// libtorch version, where linked (the `torch` feature).
    pub libtorch: Option<String>,
    /// Device the computation ran on.
    pub device: String,
    /// Rayon threads used (results do not depend on it).
    pub threads: usize,
    /// The exact command line.
    pub command: Vec<String>,
    /// The working folder the command ran in (relative paths in `command` start there).
    pub working_dir: String,
    /// UTC time the run ended (seconds since the Unix epoch).
    pub unix_time: u64,
}

impl Provenance {
    /// Collect provenance for a CPU computation.
    pub fn collect() -> Self {
        let src = env!("CARGO_MANIFEST_DIR");
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .arg("-C")
                .arg(src)
                .args(args)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
        Self {
            crate_version: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
            git_commit: commit,
            git_dirty: dirty,
            build_commit: env!("MSLAB_BUILD_COMMIT").to_string(),
            build_dirty: match env!("MSLAB_BUILD_DIRTY") {
                "false" => Some(false),
                "true" => Some(true),
                _ => None,
            },
            libtorch: None,
            device: cpu_name(),
            threads: rayon::current_num_threads(),
            command: std::env::args().collect(),
            working_dir: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| format!("cpu: {}", v.trim()))
        })
        .unwrap_or_else(|| "cpu".into())
}

/// Write `bytes` to `path` atomically: temporary file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can sync a folder).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::File {
        path: path.display().to_string(),
        message: format!("cannot serialize: {e}"),
    })?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Build a CSV in memory with `csv` and write it atomically.
pub fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<()> {
    let err = |e: csv::Error| Error::File {
        path: path.display().to_string(),
        message: format!("cannot write CSV: {e}"),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::File {
        path: path.display().to_string(),
        message: format!("cannot write CSV: {e}"),
    })?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_json(&p, &serde_json::json!({"x": 1})).unwrap();
        write_json(&p, &serde_json::json!({"x": 2})).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains('2'));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }
}
