//! Fuzzing the file parsers (issue 9): the landscape parser (and builder) and the sweep parser
//! return an error, never panic, on arbitrary text, arbitrary bytes and mutations of every
//! shipped file. Bounded, fixed-seed runs (a few hundred cases each) so this takes seconds.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::sweep::{Shard, SweepFile};

fn cfg(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_f022),
        failure_persistence: None,
        ..Config::default()
    }
}

fn corpus(folder: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(!texts.is_empty(), "no files in {folder}");
    texts
}

/// Parse a landscape file and, when it is small enough to build in microseconds, build it. Sizes
/// beyond that are refused or built by the paths the bad-input table covers.
fn landscape(text: &str) {
    if let Ok(file) = LandscapeFile::parse(text) {
        let n_samples = file
            .params
            .get("n_samples")
            .and_then(|v| v.as_integer())
            .unwrap_or(0);
        let input_dim = file
            .params
            .get("input_dim")
            .and_then(|v| v.as_integer())
            .unwrap_or(0);
        let small = file.dim <= 4096 && n_samples.saturating_mul(input_dim.max(1)) <= 100_000;
        if small {
            let _ = file.build();
        }
    }
}

fn sweep(text: &str) {
    if let Ok(s) = SweepFile::parse(text) {
        let runs = s.runs();
        assert_eq!(runs.len(), s.n_runs());
    }
}

/// Characters TOML gives meaning to, digits and the letters of nan/inf/true.
const TOKENS: &[u8] = b"[]{}=\"'.,-+_#\n 0123456789eEnaiftrux\\";

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Truncate(usize),
    DuplicateLine(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let token = prop::sample::select(TOKENS.to_vec());
    let edit = prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), token.clone()).prop_map(|(p, c)| Edit::Insert(p, c)),
        (any::<usize>(), token).prop_map(|(p, c)| Edit::Replace(p, c)),
        any::<usize>().prop_map(Edit::Truncate),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Delete(p, k) => {
                let p = p % n;
                let end = (p + k).min(b.len());
                if p < end {
                    b.drain(p..end);
                }
            }
            Edit::Insert(p, c) => b.insert(p % (b.len() + 1), c),
            Edit::Replace(p, c) => {
                if !b.is_empty() {
                    let p = p % b.len();
                    b[p] = c;
                }
            }
            Edit::Truncate(p) => b.truncate(p % n),
            Edit::DuplicateLine(p) => {
                let lines: Vec<&[u8]> = b.split(|&x| x == b'\n').collect();
                let k = p % lines.len();
                let mut out = Vec::with_capacity(b.len() * 2);
                for (i, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if i == k {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                b = out;
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(cfg(400))]

    #[test]
    fn landscape_parser_survives_arbitrary_text(s in "\\PC{0,300}") {
        landscape(&s);
    }

    #[test]
    fn landscape_parser_survives_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
        landscape(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn sweep_parser_survives_arbitrary_text(s in "\\PC{0,300}") {
        sweep(&s);
    }

    #[test]
    fn sweep_parser_survives_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
        sweep(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn shard_parser_survives_anything(s in "\\PC{0,20}", i in 0usize..50, n in 0usize..50) {
        let _ = Shard::parse(&s);
        let parsed = Shard::parse(&format!("{i}/{n}"));
        prop_assert_eq!(parsed.is_ok(), i < n);
    }

    /// TOML-shaped noise: key = value lines with random keys, values and sections.
    #[test]
    fn parsers_survive_toml_shaped_text(
        lines in prop::collection::vec(
            (prop::sample::select(vec!["name", "kind", "dim", "law", "sigma", "eigenvalues",
                "command", "seeds", "lr", "args", "grid", "init", "low", "high", "n_samples"]),
             prop::sample::select(vec!["1", "-1", "0", "1e308", "nan", "-inf", "\"x\"",
                "\"quadratic\"", "\"simulate\"", "[1, 2]", "[]", "[[1]]", "{a = 1}", "true",
                "9223372036854775807", "\"finite_sum\"", "\"gaussian\"", "2.5"]),
             prop::sample::select(vec!["", "[params]\n", "[noise]\n", "[grid]\n", "[args]\n",
                "[init]\n"])),
            0..14)
    ) {
        let text: String = lines
            .iter()
            .map(|(k, v, section)| format!("{section}{k} = {v}\n"))
            .collect();
        landscape(&text);
        sweep(&text);
    }
}

proptest! {
    #![proptest_config(cfg(150))]

    #[test]
    fn landscape_parser_survives_mutated_shipped_files(k in any::<usize>(), e in edits()) {
        let files = corpus("landscapes");
        landscape(&mutate(&files[k % files.len()], &e));
    }

    #[test]
    fn sweep_parser_survives_mutated_shipped_files(k in any::<usize>(), e in edits()) {
        let files = corpus("sweeps");
        sweep(&mutate(&files[k % files.len()], &e));
    }
}

/// The unmutated shipped files parse (so the mutations start from valid input).
#[test]
fn shipped_files_parse() {
    for text in corpus("landscapes") {
        LandscapeFile::parse(&text).unwrap().build().unwrap();
    }
    for text in corpus("sweeps") {
        assert!(SweepFile::parse(&text).unwrap().n_runs() >= 1);
    }
}
