//! Records the git commit and dirty flag of the tree the binary is BUILT from, so results
//! written by a binary copied elsewhere (a GPU machine) still name the code that produced them.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if s.is_empty() => "false",
        Some(_) => "true",
        None => "unknown",
    };
    println!("cargo:rustc-env=MSLAB_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=MSLAB_BUILD_DIRTY={dirty}");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for f in ["HEAD", "index", "refs"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
    for f in ["src", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
