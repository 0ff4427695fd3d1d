//! `mslab sweep`: a grid of runs from a sweep file, resumable (issue 9). The library side
//! (parsing, run directories, execution, index) is `momentum_smoothing::sweep`.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Failure;
use momentum_smoothing::sweep::{self, ExecOptions, RunStatus, Shard, SweepFile};
use momentum_smoothing::Error;

/// Arguments of `mslab sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file (TOML: command, [args], [grid], seeds; see sweeps/).
    file: PathBuf,
    /// Output folder: one subfolder per run, plus index.json and index.csv
    /// [default: runs/<sweep file name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs at once (child processes; several may share a GPU).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: u64,
    /// Run only part i/n of the sweep (runs whose index ≡ i mod n, 0 <= i < n); also MSLAB_SHARD.
    #[arg(long)]
    shard: Option<String>,
    /// Devices for subcommands that take --device, assigned to job slots round-robin
    /// (e.g. cuda:0,cuda:1); also MSLAB_DEVICES.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// RAYON_NUM_THREADS of each run [default: cores / jobs, unless RAYON_NUM_THREADS is set].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    threads_per_run: Option<u64>,
    /// List the runs (directory, arguments, status) and exit; nothing is written or run.
    #[arg(long)]
    dry_run: bool,
}

pub const AFTER: &str = "Example sweep file (sweeps/shb-quadratic.toml):
  command = \"simulate\"
  seeds = [0, 1]                  # values of --seed: one run each per grid point
  [args]                          # fixed flags (burn_in -> --burn-in; true -> --flag)
  landscape = \"landscapes/quadratic-4d.toml\"
  optimizer = \"shb\"
  steps = 2000
  [grid]                          # lists: the runs are the cartesian product
  lr = [0.001, 0.01]
  beta = [0.0, 0.9]

Examples:
  mslab sweep sweeps/shb-quadratic.toml --dry-run
  mslab sweep sweeps/shb-quadratic.toml --out runs/shb --jobs 2
  mslab sweep sweeps/train-fashion-mnist.toml --jobs 8 --devices cuda:0,cuda:1   # 4 per GPU
  MSLAB_SHARD=1/4 mslab sweep sweeps/big.toml --out runs/big        # machine 2 of 4

Each run executes `mslab <command> ... --out OUT/<id>`; <id> is the grid values plus a hash of
all arguments. A run is complete when OUT/<id>/summary.json exists (written atomically, last):
rerunning the same command skips complete runs, so a killed sweep resumes. A failed run does not
stop the sweep; it is listed at the end, logged in OUT/<id>/stderr.log and rerun next time.
OUT/index.json and index.csv (index.shard-i-of-n.* for shards) give every run's status,
exit code, diverged seeds and full argument list. Exit code 1 when a run failed.";

fn shard(a: &SweepArgs) -> Result<Shard, Error> {
    match &a.shard {
        Some(s) => Shard::parse(s),
        None => match std::env::var("MSLAB_SHARD") {
            Ok(s) if !s.trim().is_empty() => Shard::parse(&s),
            _ => Ok(Shard::ALL),
        },
    }
}

fn devices(a: &SweepArgs) -> Result<Vec<String>, Error> {
    let list: Vec<String> = if a.devices.is_empty() {
        std::env::var("MSLAB_DEVICES")
            .map(|s| {
                s.split(',')
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        a.devices.iter().map(|d| d.trim().to_string()).collect()
    };
    for d in &list {
        let ok = d == "cpu"
            || d == "cuda"
            || d.strip_prefix("cuda:").is_some_and(|k| {
                !k.is_empty() && k.len() <= 4 && k.bytes().all(|b| b.is_ascii_digit())
            });
        if !ok {
            return Err(Error::invalid(
                "devices",
                d,
                "a comma-separated list of cpu, cuda or cuda:K",
            ));
        }
    }
    Ok(list)
}

/// Check every flag of the sweep file against the subcommand's own flags (from its clap
/// definition), so that a typo is refused before any run starts. Returns whether the subcommand
/// takes --device.
fn check_flags(sweep: &SweepFile) -> Result<bool, Error> {
    use clap::CommandFactory;
    let cli = super::Cli::command();
    let Some(sub) = cli.find_subcommand(&sweep.command) else {
        return Err(Error::invalid(
            "command",
            &sweep.command,
            "simulate, critical or igo (train needs mslab built with --features torch)",
        ));
    };
    if !sub.get_arguments().any(|a| a.get_long() == Some("out")) {
        return Err(Error::invalid(
            "command",
            &sweep.command,
            "a subcommand that writes its results with --out",
        ));
    }
    let longs: Vec<String> = sub
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|l| l != "help" && l != "out")
        .collect();
    let takes_device = longs.iter().any(|l| l == "device");
    let flags = sweep
        .args
        .iter()
        .map(|(k, _)| ("args", k))
        .chain(sweep.grid.iter().map(|(k, _)| ("grid", k)));
    for (section, flag) in flags {
        if !longs.contains(flag) {
            return Err(Error::invalid(
                format!("{section}.{flag}"),
                "(not a flag of this command)",
                format!("a flag of mslab {}: {}", sweep.command, longs.join(", ")),
            ));
        }
    }
    if !sweep.seeds.is_empty() && !longs.contains(&sweep.seed_flag) {
        return Err(Error::invalid(
            "seeds",
            format!(
                "(--{} is not a flag of mslab {})",
                sweep.seed_flag, sweep.command
            ),
            "a seed_flag naming one of the command's flags",
        ));
    }
    Ok(takes_device)
}

pub fn run(a: SweepArgs) -> Result<(), Failure> {
    let sweep = SweepFile::read(&a.file)?;
    let takes_device = check_flags(&sweep)?;
    let shard = shard(&a)?;
    let devices = devices(&a)?;
    if !devices.is_empty() && !takes_device {
        return Err(Error::invalid(
            "devices",
            devices.join(","),
            format!("no --devices: mslab {} takes no --device", sweep.command),
        )
        .into());
    }
    if !devices.is_empty() && sweep.args.iter().any(|(k, _)| k == "device") {
        return Err(Error::invalid(
            "devices",
            devices.join(","),
            "no --devices when the sweep file sets device in [args] (one or the other)",
        )
        .into());
    }
    let out = match &a.out {
        Some(o) => o.clone(),
        None => PathBuf::from("runs").join(
            a.file
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "sweep".into()),
        ),
    };
    let jobs = a.jobs as usize;
    if a.dry_run {
        let runs = sweep.runs();
        let mine: Vec<_> = runs.iter().filter(|r| shard.contains(r.index)).collect();
        println!(
            "{} runs of `mslab {}`{} (out: {}):",
            mine.len(),
            sweep.command,
            if shard.count > 1 {
                format!(
                    " in shard {}/{} of {}",
                    shard.index,
                    shard.count,
                    runs.len()
                )
            } else {
                String::new()
            },
            out.display()
        );
        for r in mine {
            let done = sweep::completed_summary(&out.join(&r.id)).is_some();
            println!(
                "{:>5}  {:<9} {}\n       mslab {} --out {}",
                r.index,
                if done { "complete" } else { "pending" },
                r.id,
                r.argv.join(" "),
                out.join(&r.id).display()
            );
        }
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "current executable".into(),
        source,
    })?;
    let threads_per_run = match a.threads_per_run {
        Some(t) => Some(t as usize),
        None if std::env::var_os("RAYON_NUM_THREADS").is_some() => None,
        None => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Some((cores / jobs).max(1))
        }
    };
    let text = std::fs::read_to_string(&a.file).unwrap_or_default();
    let opts = ExecOptions {
        exe,
        out,
        jobs,
        shard,
        devices,
        threads_per_run,
        sweep_path: a.file.clone(),
        sweep_text: text,
    };
    let n_mine = sweep
        .runs()
        .iter()
        .filter(|r| shard.contains(r.index))
        .count();
    let bar = ProgressBar::with_draw_target(Some(n_mine as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} sweep [{bar:30}] {pos}/{len} runs ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let report = sweep::execute(&sweep, &opts, &bar)?;
    bar.finish_and_clear();
    print!("{}", sweep::describe(&report, &sweep, &opts));
    let failed = report.count(RunStatus::Failed);
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} runs failed (listed above; rerun the same command to retry them)",
            report.rows.len()
        ))
        .into());
    }
    Ok(())
}
