#![cfg(feature = "torch")]
//! Data readers (src/torch/data.rs) on small files written by the tests: idx raw and gzip,
//! CIFAR-10 and CIFAR-100 binaries, and the errors for truncated and wrong-magic files.

use std::path::Path;

use momentum_smoothing::torch::data::{
    epoch_batches, read_cifar100_dir, read_cifar10_dir, read_idx, read_mnist_dir, Dataset,
};
use tch::Device;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(path: &Path) {
    let st = std::process::Command::new("gzip")
        .arg("-f")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Four idx files of n_train/n_test images (h×w); pixel = (i·7 + j) mod 256; label = i mod 10.
fn write_mnist(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
    let h = 5;
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let px: Vec<u8> = (0..n * h * h)
            .map(|j| ((j / (h * h)) * 7 + j) as u8)
            .collect();
        let lb: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let im = dir.join(format!("{prefix}-images-idx3-ubyte"));
        let la = dir.join(format!("{prefix}-labels-idx1-ubyte"));
        std::fs::write(&im, idx_bytes(&[n as u32, h as u32, h as u32], &px)).unwrap();
        std::fs::write(&la, idx_bytes(&[n as u32], &lb)).unwrap();
        if gz {
            gzip(&im);
            gzip(&la);
        }
    }
}

#[test]
fn idx_raw_and_gz_read_the_same() {
    let raw = tempfile::tempdir().unwrap();
    let gz = tempfile::tempdir().unwrap();
    write_mnist(raw.path(), 30, 10, false);
    write_mnist(gz.path(), 30, 10, true);
    assert!(gz.path().join("train-images-idx3-ubyte.gz").is_file());
    let (a_tr, a_te) = read_mnist_dir(raw.path()).unwrap();
    let (b_tr, b_te) = read_mnist_dir(gz.path()).unwrap();
    assert_eq!(a_tr.pixels, b_tr.pixels);
    assert_eq!(a_te.labels, b_te.labels);
    assert_eq!(a_tr.len(), 30);
    assert_eq!(a_tr.shape, (1, 5, 5));
    assert_eq!(a_tr.labels[13], 3);
    assert_eq!(a_tr.pixels[25 * 2 + 1], (2 * 7 + 25 * 2 + 1) as u8);
}

fn err_of(path: &Path) -> String {
    read_idx(path).unwrap_err().to_string()
}

#[test]
fn idx_errors_name_file_and_field() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad-magic");
    let mut b = idx_bytes(&[2, 2], &[1, 2, 3, 4]);
    b[0] = 0x42;
    std::fs::write(&p, &b).unwrap();
    let e = err_of(&p);
    assert!(e.contains("bad-magic") && e.contains("idx magic"), "{e}");

    let p = d.path().join("bad-type");
    let mut b = idx_bytes(&[4], &[1, 2, 3, 4]);
    b[2] = 0x0d;
    std::fs::write(&p, &b).unwrap();
    let e = err_of(&p);
    assert!(e.contains("bad-type") && e.contains("idx type"), "{e}");

    let p = d.path().join("truncated-data");
    let b = idx_bytes(&[3, 2, 2], &[7; 11]);
    std::fs::write(&p, &b).unwrap();
    let e = err_of(&p);
    assert!(
        e.contains("truncated-data") && e.contains("idx data") && e.contains("truncated"),
        "{e}"
    );

    let p = d.path().join("truncated-header");
    std::fs::write(&p, [0u8, 0, 8, 3, 0, 0, 0, 1]).unwrap();
    let e = err_of(&p);
    assert!(
        e.contains("truncated-header") && e.contains("idx header"),
        "{e}"
    );

    let p = d.path().join("truncated.gz");
    std::fs::write(d.path().join("truncated"), idx_bytes(&[1000], &[1; 1000])).unwrap();
    gzip(&d.path().join("truncated"));
    let full = std::fs::read(&p).unwrap();
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    let e = err_of(&p);
    assert!(e.contains("truncated.gz") && e.contains("gzip"), "{e}");

    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("not found"),
        "{e}"
    );
}

#[test]
fn idx_split_mismatch_and_bad_labels() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), 20, 10, false);
    std::fs::write(
        d.path().join("train-labels-idx1-ubyte"),
        idx_bytes(&[19], &[1; 19]),
    )
    .unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("idx count"),
        "{e}"
    );
    std::fs::write(
        d.path().join("train-labels-idx1-ubyte"),
        idx_bytes(&[20], &[10; 20]),
    )
    .unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(e.contains("label 0") && e.contains("10 classes"), "{e}");
}

/// n records: label bytes then 3072 pixels with pixel k = (record + k) mod 256.
fn cifar_records(n: usize, label_bytes: usize, label: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut v = Vec::new();
    for r in 0..n {
        v.extend(std::iter::repeat_n(99u8, label_bytes - 1)); // coarse label, ignored
        v.push(label(r));
        v.extend((0..3072).map(|k| ((r + k) % 256) as u8));
    }
    v
}

#[test]
fn cifar10_and_cifar100_readers() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    for i in 1..=5 {
        std::fs::write(
            sub.join(format!("data_batch_{i}.bin")),
            cifar_records(3, 1, |r| (r + i) as u8 % 10),
        )
        .unwrap();
    }
    std::fs::write(sub.join("test_batch.bin"), cifar_records(2, 1, |r| r as u8)).unwrap();
    let (tr, te) = read_cifar10_dir(d.path()).unwrap();
    assert_eq!((tr.len(), te.len()), (15, 2));
    assert_eq!(tr.shape, (3, 32, 32));
    assert_eq!(tr.labels[..3], [1, 2, 3]);
    assert_eq!(tr.pixels[3072 + 5], 6);

    // Truncated batch: the error names the file and the record size.
    let f = sub.join("data_batch_3.bin");
    let b = std::fs::read(&f).unwrap();
    std::fs::write(&f, &b[..b.len() - 100]).unwrap();
    let e = read_cifar10_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("data_batch_3.bin") && e.contains("3073-byte record"),
        "{e}"
    );

    // CIFAR-100: two label bytes, the fine one (second) is used; 100 classes.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("train.bin"),
        cifar_records(4, 2, |r| (r * 30) as u8),
    )
    .unwrap();
    std::fs::write(d.path().join("test.bin"), cifar_records(1, 2, |_| 99)).unwrap();
    let (tr, te) = read_cifar100_dir(d.path()).unwrap();
    assert_eq!(tr.labels, vec![0, 30, 60, 90]);
    assert_eq!(te.labels, vec![99]);
    // A CIFAR-10 file read as CIFAR-100 has the wrong record size.
    std::fs::write(d.path().join("test.bin"), cifar_records(2, 1, |_| 1)).unwrap();
    let e = read_cifar100_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("test.bin") && e.contains("3074-byte record"),
        "{e}"
    );
    // Labels beyond the class count.
    std::fs::write(d.path().join("test.bin"), cifar_records(1, 2, |_| 100)).unwrap();
    let e = read_cifar100_dir(d.path()).unwrap_err().to_string();
    assert!(e.contains("cifar label"), "{e}");
}

#[test]
fn dataset_on_device_is_standardised() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), 40, 10, false);
    let (tr, te) = read_mnist_dir(d.path()).unwrap();
    let ds = Dataset::from_raw(tr, te, 10, 32, Device::Cpu).unwrap();
    assert_eq!(ds.train_x.size(), vec![32, 1, 5, 5]);
    assert_eq!(ds.test_x.size(), vec![10, 1, 5, 5]);
    assert_eq!(ds.n_train(), 32);
    let mean = ds.train_x.mean(tch::Kind::Double).double_value(&[]);
    let sd = ds.train_x.std(false).double_value(&[]);
    assert!(
        mean.abs() < 1e-5 && (sd - 1.0).abs() < 1e-4,
        "mean {mean}, sd {sd}"
    );
    assert_eq!(ds.train_y.int64_value(&[17]), 7);
}

#[test]
fn batches_are_seeded_permutations() {
    let a = epoch_batches(4, 0, 103, 10);
    assert_eq!(a.len(), 10);
    assert!(a.iter().all(|b| b.len() == 10));
    let mut all: Vec<i64> = a.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100);
    assert_eq!(a, epoch_batches(4, 0, 103, 10));
    assert_ne!(a, epoch_batches(4, 1, 103, 10));
    assert_ne!(a, epoch_batches(5, 0, 103, 10));
}
