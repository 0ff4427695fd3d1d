//! Datasets: MNIST / Fashion-MNIST idx files (raw or gzip), CIFAR-10 and CIFAR-100 binaries, and
//! a seeded synthetic 3×32×32 set for benchmarks.
//!
//! A dataset is held on the device whole as `f32 [N, C, H, W]` (pixels /255, then standardised
//! per channel with the training set's mean and standard deviation) and `i64 [N]` labels.
//! Mini-batches are drawn by index: epoch e uses a permutation from a ChaCha generator seeded
//! with (seed, e), so a run is reproducible and resumable at any epoch boundary without saving
//! generator state. The last incomplete batch of an epoch is dropped (constant b).
//!
//! File formats:
//! - idx: bytes 0–1 zero, byte 2 the element type (0x08 = unsigned byte), byte 3 the number of
//!   dimensions, then one big-endian u32 per dimension, then the data. Files whose first two
//!   bytes are 1f 8b are gzip and are decompressed with `gzip -dc`.
//!   Names: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//!   `t10k-labels-idx1-ubyte`, each optionally with `.gz`.
//! - CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`; records of 1 label byte
//!   and 3072 pixel bytes (R, G, B planes of 32×32). The folder may also be the parent of
//!   `cifar-10-batches-bin/`.
//! - CIFAR-100: `train.bin`, `test.bin`; records of 2 label bytes (coarse, fine) and 3072 pixel
//!   bytes; the fine label (100 classes) is used. The folder may be the parent of
//!   `cifar-100-binary/`.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Which dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST digits, 28×28 grey, 10 classes.
    Mnist,
    /// Fashion-MNIST, 28×28 grey, 10 classes.
    FashionMnist,
    /// CIFAR-10 binary version, 32×32×3, 10 classes.
    Cifar10,
    /// CIFAR-100 binary version, 32×32×3, 100 fine classes.
    Cifar100,
    /// Seeded Gaussian-cluster images 3×32×32, 10 classes (benchmarks; needs no files).
    Synthetic,
}

impl DatasetKind {
    /// All kinds.
    pub const ALL: [DatasetKind; 5] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
        DatasetKind::Synthetic,
    ];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
            DatasetKind::Synthetic => "synthetic",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "dataset",
                    s,
                    "one of mnist, fashion-mnist, cifar10, cifar100, synthetic",
                )
            })
    }

    /// Number of classes.
    pub fn classes(self) -> i64 {
        match self {
            DatasetKind::Cifar100 => 100,
            _ => 10,
        }
    }
}

/// Images as bytes `[n, c, h, w]` and labels, before they go to the device.
#[derive(Debug, Clone)]
pub struct RawSplit {
    /// Pixel bytes, n·c·h·w of them, image-major, channel planes.
    pub pixels: Vec<u8>,
    /// Labels.
    pub labels: Vec<u8>,
    /// (c, h, w).
    pub shape: (usize, usize, usize),
}

impl RawSplit {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// An idx array: dimensions and unsigned-byte data.
#[derive(Debug, Clone)]
pub struct Idx {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Data, product(dims) bytes.
    pub data: Vec<u8>,
}

/// Read a whole file, gunzipping it (with `gzip -dc`) when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .map_err(|e| {
                Error::file(
                    path,
                    format!("gzip file and `gzip -dc` failed to start: {e}"),
                )
            })?;
        if !out.status.success() {
            return Err(Error::file(
                path,
                format!(
                    "gzip: {} (truncated or corrupt .gz)",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        return Ok(out.stdout);
    }
    Ok(bytes)
}

/// Parse idx bytes read from `path` (the path is only used in error messages).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<Idx> {
    if bytes.len() < 4 {
        return Err(Error::file(
            path,
            format!(
                "idx header: file has {} bytes, the header needs 4",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::file(
            path,
            format!(
                "idx magic: first two bytes are {:02x} {:02x}, expected 00 00 (not an idx file)",
                bytes[0], bytes[1]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(Error::file(
            path,
            format!(
                "idx type: byte 2 is 0x{:02x}, expected 0x08 (unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let nd = bytes[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(Error::file(
            path,
            format!("idx dimensions: {nd}, expected 1 to 4"),
        ));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(Error::file(
            path,
            format!(
                "idx header: truncated, {} bytes but {nd} dimensions need {header}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    // Checked: four 32-bit dimensions can overflow usize; such a header cannot match the file.
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::file(
                path,
                format!("idx dimensions: {dims:?} overflow (product beyond 2^64 bytes)"),
            )
        })?;
    let have = bytes.len() - header;
    if have != n {
        return Err(Error::file(
            path,
            format!(
                "idx data: dimensions {dims:?} need {n} bytes, found {have}{}",
                if have < n {
                    " (truncated)"
                } else {
                    " (trailing bytes)"
                }
            ),
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Read an idx file (raw or gzip).
pub fn read_idx(path: &Path) -> Result<Idx> {
    parse_idx(path, &read_maybe_gz(path)?)
}

/// `dir/name` or `dir/name.gz`, whichever exists.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(Error::file(
        &raw,
        format!("not found (nor {name}.gz); run scripts/fetch-data.sh or pass --data DIR"),
    ))
}

/// One split of an MNIST-style dataset from its image and label idx files.
pub fn read_idx_split(images: &Path, labels: &Path, classes: u8) -> Result<RawSplit> {
    let im = read_idx(images)?;
    let lb = read_idx(labels)?;
    if im.dims.len() != 3 {
        return Err(Error::file(
            images,
            format!("idx dimensions: {:?}, expected 3 (n, rows, cols)", im.dims),
        ));
    }
    if lb.dims.len() != 1 {
        return Err(Error::file(
            labels,
            format!("idx dimensions: {:?}, expected 1 (n)", lb.dims),
        ));
    }
    if im.dims[0] != lb.dims[0] {
        return Err(Error::file(
            labels,
            format!(
                "idx count: {} labels but {} has {} images",
                lb.dims[0],
                images.display(),
                im.dims[0]
            ),
        ));
    }
    if let Some(i) = lb.data.iter().position(|&l| l >= classes) {
        return Err(Error::file(
            labels,
            format!("label {i}: {} is not below {classes} classes", lb.data[i]),
        ));
    }
    Ok(RawSplit {
        pixels: im.data,
        labels: lb.data,
        shape: (1, im.dims[1], im.dims[2]),
    })
}

/// MNIST / Fashion-MNIST (train, test) from a folder of the four idx files.
pub fn read_mnist_dir(dir: &Path) -> Result<(RawSplit, RawSplit)> {
    let f = |n: &str| find_file(dir, n);
    let train = read_idx_split(
        &f("train-images-idx3-ubyte")?,
        &f("train-labels-idx1-ubyte")?,
        10,
    )?;
    let test = read_idx_split(
        &f("t10k-images-idx3-ubyte")?,
        &f("t10k-labels-idx1-ubyte")?,
        10,
    )?;
    Ok((train, test))
}

const CIFAR_PIXELS: usize = 3 * 32 * 32;

/// Read CIFAR binary records from one file: `label_bytes` label bytes (the last one is used)
/// then 3072 pixel bytes, repeated.
pub fn read_cifar_file(path: &Path, label_bytes: usize, classes: u8) -> Result<RawSplit> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let rec = label_bytes + CIFAR_PIXELS;
    if bytes.is_empty() || bytes.len() % rec != 0 {
        return Err(Error::file(
            path,
            format!(
                "cifar record: file has {} bytes, not a positive multiple of the {rec}-byte record \
                 ({label_bytes} label byte(s) + 3072 pixels){}",
                bytes.len(),
                if bytes.len() % rec != 0 { "; truncated or wrong format" } else { "" }
            ),
        ));
    }
    let n = bytes.len() / rec;
    let mut pixels = Vec::with_capacity(n * CIFAR_PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let l = r[label_bytes - 1];
        if l >= classes {
            return Err(Error::file(
                path,
                format!("cifar label: record {i} has label {l}, expected < {classes}"),
            ));
        }
        labels.push(l);
        pixels.extend_from_slice(&r[label_bytes..]);
    }
    Ok(RawSplit {
        pixels,
        labels,
        shape: (3, 32, 32),
    })
}

fn concat(parts: Vec<RawSplit>) -> RawSplit {
    let mut out = RawSplit {
        pixels: Vec::new(),
        labels: Vec::new(),
        shape: (3, 32, 32),
    };
    for p in parts {
        out.pixels.extend(p.pixels);
        out.labels.extend(p.labels);
    }
    out
}

/// CIFAR-10 (train, test) from a folder (or its `cifar-10-batches-bin` child).
pub fn read_cifar10_dir(dir: &Path) -> Result<(RawSplit, RawSplit)> {
    let sub = dir.join("cifar-10-batches-bin");
    let dir = if sub.is_dir() { sub } else { dir.to_path_buf() };
    let mut train = Vec::new();
    for i in 1..=5 {
        train.push(read_cifar_file(
            &dir.join(format!("data_batch_{i}.bin")),
            1,
            10,
        )?);
    }
    let test = read_cifar_file(&dir.join("test_batch.bin"), 1, 10)?;
    Ok((concat(train), test))
}

/// CIFAR-100 (train, test), fine labels, from a folder (or its `cifar-100-binary` child).
pub fn read_cifar100_dir(dir: &Path) -> Result<(RawSplit, RawSplit)> {
    let sub = dir.join("cifar-100-binary");
    let dir = if sub.is_dir() { sub } else { dir.to_path_buf() };
    let train = read_cifar_file(&dir.join("train.bin"), 2, 100)?;
    let test = read_cifar_file(&dir.join("test.bin"), 2, 100)?;
    Ok((train, test))
}

/// A seeded synthetic 3×32×32, 10-class set: class c has a fixed random mean image, examples are
/// mean + noise, clipped to bytes. For throughput benchmarks and tests without files.
pub fn synthetic(seed: u64, n_train: usize, n_test: usize) -> (RawSplit, RawSplit) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_4e54_4845_5449);
    let means: Vec<Vec<f32>> = (0..10)
        .map(|_| {
            (0..CIFAR_PIXELS)
                .map(|_| rng.random_range(64.0..192.0))
                .collect()
        })
        .collect();
    let mut make = |n: usize| {
        let mut pixels = Vec::with_capacity(n * CIFAR_PIXELS);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let c = rng.random_range(0..10u8);
            labels.push(c);
            for &m in &means[c as usize] {
                let v = m + rng.random_range(-60.0f32..60.0);
                pixels.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        RawSplit {
            pixels,
            labels,
            shape: (3, 32, 32),
        }
    };
    let train = make(n_train);
    let test = make(n_test);
    (train, test)
}

/// Read (train, test) for `kind` from `dir` (ignored for synthetic).
pub fn read_raw(kind: DatasetKind, dir: &Path, seed: u64) -> Result<(RawSplit, RawSplit)> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => read_mnist_dir(dir),
        DatasetKind::Cifar10 => read_cifar10_dir(dir),
        DatasetKind::Cifar100 => read_cifar100_dir(dir),
        DatasetKind::Synthetic => Ok(synthetic(seed, 10_000, 2_000)),
    }
}

/// A dataset on a device.
pub struct Dataset {
    /// Training images, f32 `[N, C, H, W]`, standardised.
    pub train_x: Tensor,
    /// Training labels, i64 `[N]`.
    pub train_y: Tensor,
    /// Test images.
    pub test_x: Tensor,
    /// Test labels.
    pub test_y: Tensor,
    /// Number of classes.
    pub classes: i64,
    /// (C, H, W).
    pub shape: (i64, i64, i64),
}

impl Dataset {
    /// Standardise with the training set's per-channel statistics and move to `device`.
    /// `limit_train`: keep only the first n training examples (0 = all).
    pub fn from_raw(
        train: RawSplit,
        test: RawSplit,
        classes: i64,
        limit_train: usize,
        device: Device,
    ) -> Result<Self> {
        if train.is_empty() {
            return Err(Error::invalid(
                "dataset",
                "empty training split",
                "at least 1 example",
            ));
        }
        let (c, h, w) = train.shape;
        let to_x = |s: &RawSplit, n: usize| {
            Tensor::from_slice(&s.pixels[..n * c * h * w])
                .reshape([n as i64, c as i64, h as i64, w as i64])
                .to_kind(Kind::Float)
                / 255.0
        };
        let to_y = |s: &RawSplit, n: usize| Tensor::from_slice(&s.labels[..n]).to_kind(Kind::Int64);
        let n_train = if limit_train == 0 {
            train.len()
        } else {
            limit_train.min(train.len())
        };
        let tx = to_x(&train, n_train);
        let mean = tx.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
        let std = tx
            .std_dim([0i64, 2, 3].as_slice(), false, true)
            .clamp_min(1e-6);
        let norm = |x: Tensor| ((x - &mean) / &std).to_device(device);
        let test_x = norm(to_x(&test, test.len()));
        Ok(Dataset {
            train_x: norm(tx),
            train_y: to_y(&train, n_train).to_device(device),
            test_x,
            test_y: to_y(&test, test.len()).to_device(device),
            classes,
            shape: (c as i64, h as i64, w as i64),
        })
    }

    /// Load `kind` from `dir` onto `device`.
    pub fn load(
        kind: DatasetKind,
        dir: &Path,
        seed: u64,
        limit_train: usize,
        device: Device,
    ) -> Result<Self> {
        let (train, test) = read_raw(kind, dir, seed)?;
        Self::from_raw(train, test, kind.classes(), limit_train, device)
    }

    /// Number of training examples.
    pub fn n_train(&self) -> usize {
        self.train_y.size()[0] as usize
    }

    /// Number of test examples.
    pub fn n_test(&self) -> usize {
        self.test_y.size()[0] as usize
    }
}

/// A ChaCha generator for purpose `stream` (distinct streams never overlap) at `counter`.
pub fn rng_for(seed: u64, stream: u64, counter: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r.set_word_pos(u128::from(counter) << 32);
    r
}

/// Stream ids of the generators a run uses.
pub mod streams {
    /// Per-epoch batch permutation.
    pub const BATCHES: u64 = 1;
    /// Per-step augmentation.
    pub const AUGMENT: u64 = 2;
    /// Per-measurement micro-batch draws.
    pub const MEASURE: u64 = 3;
    /// The fixed projection directions of a run.
    pub const PROJECTIONS: u64 = 4;
}

/// The batch index lists of epoch `epoch`: a seeded permutation of 0..n cut into
/// ⌊n/b⌋ batches (last partial batch dropped).
pub fn epoch_batches(seed: u64, epoch: u64, n: usize, b: usize) -> Vec<Vec<i64>> {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    idx.shuffle(&mut rng_for(seed, streams::BATCHES, epoch));
    idx.chunks_exact(b.max(1)).map(|c| c.to_vec()).collect()
}

/// Training augmentation (random crop with 4-pixel zero padding and horizontal flip), driven
/// by a ChaCha generator seeded with (seed, step): libtorch's own generator is never used.
pub fn augment(x: &Tensor, seed: u64, step: u64) -> Tensor {
    let mut rng = rng_for(seed, streams::AUGMENT, step);
    let size = x.size();
    let (n, h, w) = (size[0], size[2], size[3]);
    let padded = x.constant_pad_nd([4i64, 4, 4, 4]);
    let crops: Vec<Tensor> = (0..n)
        .map(|i| {
            let dy = rng.random_range(0..=8i64);
            let dx = rng.random_range(0..=8i64);
            let img = padded.get(i).narrow(1, dy, h).narrow(2, dx, w);
            if rng.random_bool(0.5) {
                img.flip([2i64])
            } else {
                img
            }
        })
        .collect();
    Tensor::stack(&crops, 0)
}
