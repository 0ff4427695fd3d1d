//! Models: an MLP, a small CNN and ResNet-18 with the CIFAR stem, each with a choice of
//! normalisation (`batch`, `group`, `none`) so the theory can be checked on BatchNorm-free
//! networks and the paper's protocol reproduced with BatchNorm.
//!
//! - `mlp`: flatten → 512 → norm → ReLU → 256 → norm → ReLU → classes.
//! - `cnn`: [conv3×3 32 → norm → ReLU → max-pool 2] → [conv3×3 64 → norm → ReLU → max-pool 2]
//!   → flatten → 128 → ReLU → classes.
//! - `resnet18`: conv3×3 64 (stride 1, no max-pool) → norm → ReLU → 4 stages of 2 basic blocks
//!   (64, 128, 256, 512 channels; stride 2 from the second stage, 1×1 projection shortcuts) →
//!   global average pool → classes (He et al. 2016, CIFAR variant as in the paper's code).
//!
//! Input channels and size come from the data; the head has exactly the dataset's number of
//! classes. GroupNorm uses 32 groups (8 for layers with fewer than 64 channels); BatchNorm uses
//! PyTorch's defaults (momentum 0.1, ε = 1e-5). Convolutions have no bias under a norm layer.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::error::{Error, Result};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Two-hidden-layer perceptron.
    Mlp,
    /// Two-convolution network.
    Cnn,
    /// ResNet-18, CIFAR stem.
    Resnet18,
}

impl ModelKind {
    /// Parse `mlp`, `cnn`, `resnet18`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mlp" => Ok(ModelKind::Mlp),
            "cnn" => Ok(ModelKind::Cnn),
            "resnet18" => Ok(ModelKind::Resnet18),
            _ => Err(Error::invalid("model", s, "one of mlp, cnn, resnet18")),
        }
    }

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
            ModelKind::Resnet18 => "resnet18",
        }
    }
}

/// Normalisation layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// BatchNorm (running statistics, train/eval modes differ).
    Batch,
    /// GroupNorm (no buffers; train and eval modes agree).
    Group,
    /// No normalisation.
    None,
}

impl Norm {
    /// Parse `batch`, `group`, `none`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "batch" => Ok(Norm::Batch),
            "group" => Ok(Norm::Group),
            "none" => Ok(Norm::None),
            _ => Err(Error::invalid("norm", s, "one of batch, group, none")),
        }
    }

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Norm::Batch => "batch",
            Norm::Group => "group",
            Norm::None => "none",
        }
    }
}

fn groups(c: i64) -> i64 {
    if c >= 64 {
        32
    } else {
        8
    }
}

/// A normalisation layer.
#[derive(Debug)]
enum NormLayer {
    Batch(nn::BatchNorm),
    Group(nn::GroupNorm),
    None,
}

impl ModuleT for NormLayer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            NormLayer::Batch(b) => b.forward_t(x, train),
            NormLayer::Group(g) => x.apply(g),
            NormLayer::None => x.shallow_clone(),
        }
    }
}

/// A norm layer for 2-D feature maps `[N, C, H, W]` (`dim1 = false`) or features `[N, C]`.
fn norm_layer(p: nn::Path, c: i64, norm: Norm, dim1: bool) -> NormLayer {
    match norm {
        Norm::Batch if dim1 => NormLayer::Batch(nn::batch_norm1d(p, c, Default::default())),
        Norm::Batch => NormLayer::Batch(nn::batch_norm2d(p, c, Default::default())),
        Norm::Group => NormLayer::Group(nn::group_norm(p, groups(c), c, Default::default())),
        Norm::None => NormLayer::None,
    }
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, norm: Norm) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: k / 2,
        bias: norm == Norm::None,
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, cfg)
}

#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: NormLayer,
    conv2: nn::Conv2D,
    bn2: NormLayer,
    shortcut: Option<(nn::Conv2D, NormLayer)>,
}

impl BasicBlock {
    fn new(p: nn::Path, cin: i64, cout: i64, stride: i64, norm: Norm) -> Self {
        let shortcut = (stride != 1 || cin != cout).then(|| {
            (
                conv(&p / "down_conv", cin, cout, 1, stride, norm),
                norm_layer(&p / "down_norm", cout, norm, false),
            )
        });
        BasicBlock {
            conv1: conv(&p / "conv1", cin, cout, 3, stride, norm),
            bn1: norm_layer(&p / "norm1", cout, norm, false),
            conv2: conv(&p / "conv2", cout, cout, 3, 1, norm),
            bn2: norm_layer(&p / "norm2", cout, norm, false),
            shortcut,
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train);
        let s = match &self.shortcut {
            Some((c, n)) => x.apply(c).apply_t(n, train),
            None => x.shallow_clone(),
        };
        (y + s).relu()
    }
}

/// libtorch's default generator is process-wide: two threads that seed it and draw from it at
/// the same time interleave their draws. Every seeded initialisation in this crate runs under
/// this lock ([`seeded`]).
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run `f` with libtorch's generator seeded with `seed`, holding a process-wide lock so that
/// concurrent runs in one process (tests, `--jobs`) get the same initialisation as serial ones.
pub fn seeded<T>(seed: u64, f: impl FnOnce() -> T) -> T {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed as i64);
    f()
}

/// Build a network in `vs` for inputs `(c, h, w)` and `classes` outputs. Parameters are drawn
/// from libtorch's generator: call it inside [`seeded`] for a seeded initialisation.
pub fn build(
    vs: &nn::Path,
    kind: ModelKind,
    norm: Norm,
    input: (i64, i64, i64),
    classes: i64,
) -> nn::SequentialT {
    let (c, h, w) = input;
    match kind {
        ModelKind::Mlp => nn::seq_t()
            .add_fn(|x| x.flatten(1, -1))
            .add(nn::linear(vs / "fc1", c * h * w, 512, Default::default()))
            .add(norm_layer(vs / "norm1", 512, norm, true))
            .add_fn(|x| x.relu())
            .add(nn::linear(vs / "fc2", 512, 256, Default::default()))
            .add(norm_layer(vs / "norm2", 256, norm, true))
            .add_fn(|x| x.relu())
            .add(nn::linear(vs / "head", 256, classes, Default::default())),
        ModelKind::Cnn => nn::seq_t()
            .add(conv(vs / "conv1", c, 32, 3, 1, norm))
            .add(norm_layer(vs / "norm1", 32, norm, false))
            .add_fn(|x| x.relu().max_pool2d_default(2))
            .add(conv(vs / "conv2", 32, 64, 3, 1, norm))
            .add(norm_layer(vs / "norm2", 64, norm, false))
            .add_fn(|x| x.relu().max_pool2d_default(2))
            .add_fn(|x| x.flatten(1, -1))
            .add(nn::linear(
                vs / "fc1",
                64 * (h / 4) * (w / 4),
                128,
                Default::default(),
            ))
            .add_fn(|x| x.relu())
            .add(nn::linear(vs / "head", 128, classes, Default::default())),
        ModelKind::Resnet18 => {
            let mut s = nn::seq_t()
                .add(conv(vs / "stem_conv", c, 64, 3, 1, norm))
                .add(norm_layer(vs / "stem_norm", 64, norm, false))
                .add_fn(|x| x.relu());
            let mut cin = 64;
            for (stage, &cout) in [64i64, 128, 256, 512].iter().enumerate() {
                for blk in 0..2 {
                    let stride = if stage > 0 && blk == 0 { 2 } else { 1 };
                    let p = vs / format!("layer{}", stage + 1) / blk;
                    s = s.add(BasicBlock::new(p, cin, cout, stride, norm));
                    cin = cout;
                }
            }
            s.add_fn(|x| x.adaptive_avg_pool2d([1, 1]).flatten(1, -1))
                .add(nn::linear(vs / "head", 512, classes, Default::default()))
        }
    }
}
