#![cfg(feature = "torch")]
//! Fuzzing the dataset readers (issue 9): arbitrary bytes, and mutations of valid files, through
//! the idx parser and the CIFAR reader never panic — every outcome is Ok or an error that names
//! the file. Fixed proptest seed and bounded case counts: deterministic, about a second.

use std::path::Path;

use momentum_smoothing::torch::data::{parse_idx, read_cifar_file};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

/// A valid idx file: header for `dims`, then product(dims) bytes.
fn idx_file(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    let n: u32 = dims.iter().product();
    v.extend((0..n).map(|i| (i % 251) as u8));
    v
}

fn check_idx(bytes: &[u8]) {
    let path = Path::new("fuzz.idx");
    match parse_idx(path, bytes) {
        Ok(idx) => {
            let n: usize = idx.dims.iter().product();
            assert_eq!(idx.data.len(), n);
        }
        Err(e) => assert!(e.to_string().contains("fuzz.idx"), "{e}"),
    }
}

#[test]
fn idx_parser_never_panics_on_arbitrary_bytes() {
    runner(2000)
        .run(&proptest::collection::vec(any::<u8>(), 0..64), |b| {
            check_idx(&b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn idx_parser_never_panics_on_mutated_headers() {
    // Valid prefixes with arbitrary dimension words (including ones whose product overflows).
    let strategy = (
        1u8..=4,
        proptest::collection::vec(any::<u32>(), 4),
        0usize..32,
    );
    runner(2000)
        .run(&strategy, |(nd, words, extra)| {
            let mut b = vec![0, 0, 8, nd];
            for w in &words[..nd as usize] {
                b.extend_from_slice(&w.to_be_bytes());
            }
            b.extend(std::iter::repeat_n(1u8, extra));
            check_idx(&b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn idx_parser_never_panics_on_flipped_bytes_of_valid_files() {
    let valid = idx_file(&[3, 4, 5]);
    let strategy = proptest::collection::vec((0..valid.len(), any::<u8>()), 1..4);
    runner(1000)
        .run(&strategy, |flips| {
            let mut b = valid.clone();
            for (i, v) in flips {
                b[i] = v;
            }
            check_idx(&b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn overflowing_idx_dimensions_are_an_error() {
    let mut b = vec![0, 0, 8, 4];
    for _ in 0..4 {
        b.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    let e = parse_idx(Path::new("big.idx"), &b).unwrap_err().to_string();
    assert!(e.contains("big.idx") && e.contains("dimensions"), "{e}");
}

#[test]
fn cifar_reader_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.bin");
    // Lengths around the 3073/3074-byte records, arbitrary label bytes.
    let strategy = (
        prop_oneof![
            Just(0usize),
            Just(3073),
            Just(3074),
            Just(6146),
            0usize..7000
        ],
        any::<u8>(),
        1usize..=2,
        1u8..=100,
    );
    runner(200)
        .run(&strategy, |(len, label, label_bytes, classes)| {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    if i % (3072 + label_bytes) < label_bytes {
                        label
                    } else {
                        i as u8
                    }
                })
                .collect();
            std::fs::write(&path, &bytes).unwrap();
            match read_cifar_file(&path, label_bytes, classes) {
                Ok(split) => {
                    assert_eq!(split.pixels.len(), split.labels.len() * 3072);
                    assert!(split.labels.iter().all(|&l| l < classes));
                }
                Err(e) => assert!(e.to_string().contains("batch.bin"), "{e}"),
            }
            Ok(())
        })
        .unwrap();
}
