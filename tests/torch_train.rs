#![cfg(feature = "torch")]
//! Models, instruments and the training loop (src/torch/{models,instruments,train}.rs) on CPU:
//! measurement leaves the trajectory bit-for-bit unchanged, a resumed run ends where an
//! uninterrupted one does, the instruments' decomposition is exact, and `mslab train` writes
//! its results folder with provenance.

use std::path::Path;

use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::torch::data::DatasetKind;
use momentum_smoothing::torch::device::DeviceSpec;
use momentum_smoothing::torch::models::{build, seeded, ModelKind, Norm};
use momentum_smoothing::torch::train::{run, TrainConfig};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

mod common;
use common::write_data;

fn config(
    data: &Path,
    out: &Path,
    model: ModelKind,
    norm: Norm,
    kind: OptimizerKind,
) -> TrainConfig {
    TrainConfig {
        dataset: DatasetKind::FashionMnist,
        data_dir: data.to_path_buf(),
        model,
        norm,
        optimizer: Optimizer::new(
            kind,
            0.05,
            if kind == OptimizerKind::Sgd { 0.0 } else { 0.9 },
            0.7,
        )
        .unwrap(),
        batch: 32,
        epochs: 2,
        seed: 7,
        device: DeviceSpec::Cpu,
        measure_every: Some(0),
        measure: common::tiny_measure(),
        augment: false,
        limit_train: 0,
        max_steps: 0,
        warmup_steps: 0,
        out: out.to_path_buf(),
        progress: false,
    }
}

#[test]
fn measurement_leaves_the_trajectory_unchanged() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), 256, 64);
    let out = tempfile::tempdir().unwrap();
    // BatchNorm: the case where a train-mode measurement would move the running statistics.
    let mut cfg = config(
        data.path(),
        &out.path().join("plain"),
        ModelKind::Cnn,
        Norm::Batch,
        OptimizerKind::Shb,
    );
    let plain = run(&cfg).unwrap();
    cfg.measure_every = Some(3);
    cfg.out = out.path().join("measured");
    let measured = run(&cfg).unwrap();
    assert_eq!(plain.summary.steps, 16);
    assert!(plain.params.equal(&measured.params), "parameters differ");
    assert!(plain.buffers.numel() > 0);
    assert!(
        plain.buffers.equal(&measured.buffers),
        "BatchNorm buffers differ"
    );
    assert_eq!(plain.epochs, measured.epochs);
    let steps: Vec<u64> = measured.series.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![0, 3, 6, 9, 12, 15]);
    // A different seed gives a different trajectory (the comparison can fail).
    cfg.seed = 8;
    cfg.measure_every = Some(0);
    cfg.out = out.path().join("other");
    let other = run(&cfg).unwrap();
    assert!(!plain.params.equal(&other.params));
}

#[test]
fn resumed_run_ends_like_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), 256, 64);
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config(
        data.path(),
        &out.path().join("whole"),
        ModelKind::Cnn,
        Norm::Batch,
        OptimizerKind::Nshb,
    );
    cfg.epochs = 2;
    cfg.measure_every = Some(5);
    let whole = run(&cfg).unwrap();
    assert_eq!(whole.summary.resumed_from_epoch, None);

    cfg.out = out.path().join("pieces");
    cfg.epochs = 1;
    let first = run(&cfg).unwrap();
    assert_eq!(first.summary.steps, 8);
    assert!(cfg.out.join("checkpoint.pt").is_file());
    cfg.epochs = 2;
    let resumed = run(&cfg).unwrap();
    assert_eq!(resumed.summary.resumed_from_epoch, Some(1));
    assert_eq!(resumed.summary.steps, 16);
    assert!(
        whole.params.equal(&resumed.params),
        "parameters differ after resume"
    );
    assert!(
        whole.buffers.equal(&resumed.buffers),
        "buffers differ after resume"
    );
    assert_eq!(whole.epochs, resumed.epochs);
    let strip = |v: &[momentum_smoothing::torch::instruments::Measurement]| {
        v.iter()
            .map(|r| (r.step, r.k, r.omega_norm, r.c2))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&whole.series), strip(&resumed.series));

    // A checkpoint of another configuration is refused, naming the field.
    cfg.optimizer.lr = 0.01;
    let e = match run(&cfg) {
        Ok(_) => panic!("a checkpoint of another configuration was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("out"), "{e}");
}

#[test]
fn instruments_decompose_omega_exactly() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), 256, 64);
    let out = tempfile::tempdir().unwrap();
    for kind in [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Qhm] {
        let mut cfg = config(
            data.path(),
            &out.path().join(kind.name()),
            ModelKind::Mlp,
            Norm::None,
            kind,
        );
        cfg.measure_every = Some(2);
        cfg.epochs = 1;
        let o = run(&cfg).unwrap();
        assert_eq!(o.series.len(), 4);
        for r in &o.series {
            assert!(
                r.k > 0.0 && r.c2 > 0.0 && r.omega_norm > 0.0,
                "{kind}: {r:?}"
            );
            assert!((r.delta_emp - r.lr * r.omega_norm).abs() <= 1e-12 * r.delta_emp);
            // ω = bias + random: the triangle inequality both ways.
            let tol = 1e-5 * (r.bias_norm + r.random_norm);
            assert!(
                r.omega_norm <= r.bias_norm + r.random_norm + tol,
                "{kind}: {r:?}"
            );
            assert!(
                r.omega_norm >= (r.bias_norm - r.random_norm).abs() - tol,
                "{kind}: {r:?}"
            );
            assert!(r.cos_angle.abs() <= 1.0 + 1e-9);
            // Predicted δ recomputed from the row's own C², K.
            let opt = cfg.optimizer;
            for (key, v) in &r.delta_pred {
                let f = momentum_smoothing::theory::formulas(kind)
                    .iter()
                    .find(|f| f.key() == key)
                    .unwrap();
                let want = opt.lr * f.psi(&opt, 32.0, r.c2, r.k);
                assert!((v - want).abs() <= 1e-12 * want, "{key}");
            }
        }
        if kind == OptimizerKind::Sgd {
            // SGD: no bias at all, ω is the random part.
            for r in &o.series {
                assert_eq!(r.bias_norm, 0.0);
                assert!((r.omega_norm - r.random_norm).abs() <= 1e-6 * r.omega_norm);
            }
        }
        // At step 0 m_{−1} = 0 and c_g = 1 for SHB: no bias either.
        if kind == OptimizerKind::Shb {
            assert_eq!(o.series[0].bias_norm, 0.0);
        }
    }
}

fn n_params(model: ModelKind, norm: Norm, input: (i64, i64, i64), classes: i64) -> (i64, Vec<i64>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let (net, x) = seeded(0, || {
        let net = build(&vs.root(), model, norm, input, classes);
        let x = Tensor::randn([2, input.0, input.1, input.2], (Kind::Float, Device::Cpu));
        (net, x)
    });
    let y = net.forward_t(&x, true);
    let n = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    (n, y.size())
}

#[test]
fn models_have_the_right_heads_and_sizes() {
    for model in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Resnet18] {
        for norm in [Norm::Batch, Norm::Group, Norm::None] {
            for (input, classes) in [((1, 28, 28), 10), ((3, 32, 32), 100)] {
                let (_, out) = n_params(model, norm, input, classes);
                assert_eq!(out, vec![2, classes], "{model:?} {norm:?}");
            }
        }
    }
    // The CIFAR ResNet-18 with BatchNorm and a 10-way head has 11,173,962 parameters
    // (the count torchvision-style CIFAR implementations report).
    let (n, _) = n_params(ModelKind::Resnet18, Norm::Batch, (3, 32, 32), 10);
    assert_eq!(n, 11_173_962);
    let (n100, _) = n_params(ModelKind::Resnet18, Norm::Batch, (3, 32, 32), 100);
    assert_eq!(n100 - n, 90 * 513);
}

#[test]
fn cuda_requested_without_cuda_is_an_error() {
    assert!(DeviceSpec::parse("cuda:x")
        .unwrap_err()
        .to_string()
        .contains("device"));
    assert_eq!(DeviceSpec::parse("cuda:1").unwrap(), DeviceSpec::Cuda(1));
    if Path::new("/dev/nvidia0").exists() {
        return; // a GPU machine: nothing to check here
    }
    let e = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
    assert!(
        e.contains("device") && e.contains("CUDA is not available"),
        "{e}"
    );
}

#[test]
fn cli_train_writes_results_with_provenance() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), 128, 32);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let bin = env!("CARGO_BIN_EXE_mslab");
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "train",
            "--dataset",
            "fashion-mnist",
            "--model",
            "mlp",
            "--norm",
            "group",
            "--optimizer",
            "shb",
            "--batch",
            "32",
            "--epochs",
            "1",
            "--measure-every",
            "2",
            "--measure-subset",
            "64",
            "--micro-size",
            "8",
            "--micro-batches",
            "3",
            "--eval-chunk",
            "32",
            "--quiet",
            "--data",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(data.path().display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let o = std::process::Command::new(bin)
        .args(args(&["--out", dir.to_str().unwrap()]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary["provenance"]["libtorch"]
        .as_str()
        .unwrap()
        .contains("2.11.0"));
    assert_eq!(summary["device"]["device"], "cpu");
    assert_eq!(summary["steps"], 4);
    let series = std::fs::read_to_string(dir.join("series.csv")).unwrap();
    assert!(series.starts_with("step,epoch,lr,batch,full_loss,k,"));
    assert!(series.contains("delta_pred_shb_paper"));
    assert_eq!(series.lines().count(), 3);
    assert!(dir.join("epochs.csv").is_file() && dir.join("model.pt").is_file());

    // Bad input: exit 2, the field named, nothing written.
    for (flag, value, field) in [
        ("--model", "vgg", "model"),
        ("--norm", "layer", "norm"),
        ("--dataset", "imagenet", "dataset"),
    ] {
        let bad = out.path().join(format!("bad-{field}"));
        let o = std::process::Command::new(bin)
            .args(args(&[flag, value, "--out", bad.to_str().unwrap()]))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{field}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(field));
        assert!(!bad.exists());
    }
    if !Path::new("/dev/nvidia0").exists() {
        let bad = out.path().join("bad-cuda");
        let o = std::process::Command::new(bin)
            .args(args(&["--device", "cuda", "--out", bad.to_str().unwrap()]))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("CUDA is not available"));
        assert!(!bad.exists());
    }
}
