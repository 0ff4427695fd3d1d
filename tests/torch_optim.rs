#![cfg(feature = "torch")]
//! Tensor optimizers (src/torch/optim.rs): SHB and Nesterov equal tch's `nn::Sgd` (PyTorch
//! semantics) step for step; the C9 equivalences hold on tensors; one step of each rule equals
//! the simulator's `optimizer::Optimizer` on the same gradient sequence.

use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::torch::models::seeded;
use momentum_smoothing::torch::optim::{flatten, flatten_parameters, TensorOptimizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn randn(rng: &mut ChaCha8Rng, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_slice(&v).reshape(shape)
}

fn max_rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    let s = a.abs().max().double_value(&[]).max(1e-300);
    d / s
}

/// Two var stores holding identical f64 parameters of the same small network, and the nets.
fn twin_nets(seed: u64) -> (nn::VarStore, impl Module, nn::VarStore, impl Module) {
    let mut a = nn::VarStore::new(Device::Cpu);
    let mut b = nn::VarStore::new(Device::Cpu);
    let (net_a, net_b) = seeded(seed, || (net(&a.root()), net(&b.root())));
    a.double();
    b.double();
    b.copy(&a).unwrap();
    (a, net_a, b, net_b)
}

fn net(p: &nn::Path) -> impl Module {
    nn::seq()
        .add(nn::linear(p / "l1", 6, 16, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(p / "l2", 16, 3, Default::default()))
}

fn pytorch_equivalence(kind: OptimizerKind, nesterov: bool) {
    let (lr, beta) = (0.05, 0.9);
    let (vs_a, net_a, vs_b, net_b) = twin_nets(3);
    let mut sgd = nn::Sgd {
        momentum: beta,
        dampening: 0.0,
        wd: 0.0,
        nesterov,
    }
    .build(&vs_a, lr)
    .unwrap();
    let params_b = vs_b.trainable_variables();
    let mut ours = TensorOptimizer::new(Optimizer::new(kind, lr, beta, 0.0).unwrap(), &params_b);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for step in 0..30 {
        let x = randn(&mut rng, &[8, 6]);
        let y = Tensor::from_slice(&(0..8).map(|i| (i % 3) as i64).collect::<Vec<_>>());
        let la = net_a.forward(&x).cross_entropy_for_logits(&y);
        sgd.backward_step(&la);
        let lb = net_b.forward(&x).cross_entropy_for_logits(&y);
        let g = Tensor::run_backward(&[&lb], &params_b, false, false);
        ours.step(&params_b, &g);
        let pa = flatten(&vs_a.trainable_variables());
        let pb = flatten(&params_b);
        let r = max_rel_diff(&pa, &pb);
        assert!(r < 1e-12, "{kind} step {step}: relative difference {r:e}");
    }
}

#[test]
fn shb_equals_tch_sgd_momentum() {
    pytorch_equivalence(OptimizerKind::Shb, false);
}

#[test]
fn nesterov_equals_tch_sgd_nesterov() {
    pytorch_equivalence(OptimizerKind::Nesterov, true);
}

/// Gradient oracle shared by equivalent runs: a quadratic plus a fixed noise sequence.
fn run_quadratic(opt: Optimizer, steps: usize) -> Vec<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let a = randn(&mut rng, &[10, 10]);
    let h = a.matmul(&a.tr()) / 10.0 + Tensor::eye(10, (Kind::Double, Device::Cpu));
    let x0 = randn(&mut rng, &[10]);
    let noise: Vec<Tensor> = (0..steps).map(|_| randn(&mut rng, &[10])).collect();
    let x = x0.copy();
    let params = [x.shallow_clone()];
    let mut o = TensorOptimizer::new(opt, &params);
    let mut traj = Vec::new();
    for xi in &noise {
        let g = h.mv(&x) + xi * 0.3;
        o.step(&params, &[g]);
        traj.push(x.copy());
    }
    traj
}

fn assert_same_trajectory(a: Optimizer, b: Optimizer, what: &str) {
    let ta = run_quadratic(a, 200);
    let tb = run_quadratic(b, 200);
    for (t, (xa, xb)) in ta.iter().zip(&tb).enumerate() {
        let r = max_rel_diff(xa, xb);
        assert!(r < 1e-10, "{what}: step {t}, relative difference {r:e}");
    }
}

#[test]
fn c9_equivalences_on_tensors() {
    let (eta, beta) = (0.02, 0.8);
    let o = |k, lr, b, nu| Optimizer::new(k, lr, b, nu).unwrap();
    use OptimizerKind::*;
    assert_same_trajectory(
        o(Nshb, eta, beta, 0.0),
        o(Shb, eta * (1.0 - beta), beta, 0.0),
        "NSHB(η,β) ≡ SHB(η(1−β),β)",
    );
    assert_same_trajectory(
        o(Nesterov, eta, beta, 0.0),
        o(Qhm, eta / (1.0 - beta), beta, beta),
        "Nesterov(η,β) ≡ QHM(η/(1−β), ν=β, β)",
    );
    assert_same_trajectory(
        o(Qhm, eta, beta, 0.0),
        o(Sgd, eta, 0.0, 0.0),
        "QHM(ν=0) ≡ SGD",
    );
    assert_same_trajectory(
        o(Qhm, eta, beta, 1.0),
        o(Nshb, eta, beta, 0.0),
        "QHM(ν=1) ≡ NSHB",
    );
    // And a non-equivalence, so the check can fail: SHB(η,β) is not NSHB(η,β).
    let ta = run_quadratic(o(Shb, eta, beta, 0.0), 50);
    let tb = run_quadratic(o(Nshb, eta, beta, 0.0), 50);
    assert!(max_rel_diff(&ta[49], &tb[49]) > 1e-3);
}

#[test]
fn each_rule_matches_the_simulator() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for kind in OptimizerKind::ALL {
        let opt = Optimizer::new(kind, 0.1, 0.85, 0.6).unwrap();
        let dim = 7;
        let mut x_sim: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut m_sim = vec![0.0; dim];
        let mut d_sim = vec![0.0; dim];
        let x_t = Tensor::from_slice(&x_sim);
        let params = [x_t.shallow_clone()];
        let mut ours = TensorOptimizer::new(opt, &params);
        for t in 0..6 {
            let g: Vec<f64> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
            opt.direction(&g, &mut m_sim, &mut d_sim);
            opt.apply(&mut x_sim, &d_sim);
            ours.step(&params, &[Tensor::from_slice(&g)]);
            let d: Vec<f64> = Vec::try_from(ours.search_direction()[0].copy()).unwrap();
            let m: Vec<f64> = Vec::try_from(ours.momentum()[0].copy()).unwrap();
            let x: Vec<f64> = Vec::try_from(x_t.copy()).unwrap();
            for i in 0..dim {
                assert!((d[i] - d_sim[i]).abs() < 1e-14, "{kind} step {t}: d");
                assert!((x[i] - x_sim[i]).abs() < 1e-14, "{kind} step {t}: x");
                if kind != OptimizerKind::Sgd {
                    assert!((m[i] - m_sim[i]).abs() < 1e-14, "{kind} step {t}: m");
                }
            }
        }
    }
}

/// `update` (the training loop's unmeasured step) moves parameters and momentum exactly as
/// `step`, bit for bit, for all five rules, f32 and f64, interleaved with `step` calls (as in a
/// measured run) so the momentum buffers carry over between the two paths.
#[test]
fn update_is_bit_identical_to_step() {
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Shb,
        OptimizerKind::Nshb,
        OptimizerKind::Qhm,
        OptimizerKind::Nesterov,
    ] {
        for fkind in [Kind::Float, Kind::Double] {
            let opt = Optimizer::new(kind, 0.07, 0.85, 0.6).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(21);
            let init: Vec<Tensor> = [vec![7i64, 5], vec![13]]
                .iter()
                .map(|s| randn(&mut rng, s).to_kind(fkind))
                .collect();
            let pa: Vec<Tensor> = init.iter().map(Tensor::copy).collect();
            let pb: Vec<Tensor> = init.iter().map(Tensor::copy).collect();
            let mut oa = TensorOptimizer::new(opt, &pa);
            let mut ob = TensorOptimizer::new(opt, &pb);
            for t in 0..40 {
                let g: Vec<Tensor> = init
                    .iter()
                    .map(|p| randn(&mut rng, &p.size()).to_kind(fkind))
                    .collect();
                oa.step(&pa, &g);
                if t % 7 == 0 {
                    ob.step(&pb, &g);
                } else {
                    ob.update(&pb, &g);
                }
                for (x, y) in pa
                    .iter()
                    .zip(&pb)
                    .chain(oa.momentum().iter().zip(ob.momentum()))
                {
                    assert!(
                        x.equal(y),
                        "{kind} {fkind:?} step {t}: update differs from step"
                    );
                }
            }
        }
    }
}

/// The training loop's path: parameters made views of one flat tensor
/// (`flatten_parameters`), gradients concatenated, `update_flat` on unmeasured steps and
/// `direction_flat` + `apply_flat` on measured ones. Same bits as the per-parameter `step`,
/// with real autograd gradients flowing into the re-seated parameters.
#[test]
fn flat_path_is_bit_identical_to_per_parameter_path() {
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Shb,
        OptimizerKind::Nshb,
        OptimizerKind::Qhm,
        OptimizerKind::Nesterov,
    ] {
        let opt = Optimizer::new(kind, 0.05, 0.9, 0.7).unwrap();
        let (vs_a, net_a, vs_b, net_b) = twin_nets(5);
        let pa = vs_a.trainable_variables();
        let pb = vs_b.trainable_variables();
        let before = flatten(&pb);
        let x_flat = flatten_parameters(&pb);
        assert!(x_flat.equal(&before), "{kind}: flattening changed values");
        assert!(
            pb.iter().all(|p| p.requires_grad()),
            "{kind}: lost requires_grad"
        );
        let mut oa = TensorOptimizer::new(opt, &pa);
        let mut ob = TensorOptimizer::new(opt, &pb);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for step in 0..30 {
            let x = randn(&mut rng, &[8, 6]);
            let y = Tensor::from_slice(&(0..8).map(|i| (i % 3) as i64).collect::<Vec<_>>());
            let la = net_a.forward(&x).cross_entropy_for_logits(&y);
            let ga = Tensor::run_backward(&[&la], &pa, false, false);
            oa.step(&pa, &ga);
            let lb = net_b.forward(&x).cross_entropy_for_logits(&y);
            let gb = Tensor::run_backward(&[&lb], &pb, false, false);
            let g_flat = flatten(&gb);
            if step % 5 == 0 {
                ob.direction_flat(&g_flat);
                assert!(
                    ob.search_direction_flat()
                        .equal(&flatten(oa.search_direction())),
                    "{kind} step {step}: d_t differs"
                );
                ob.apply_flat(&x_flat);
            } else {
                ob.update_flat(&x_flat, &g_flat);
            }
            for (u, v) in pa.iter().zip(&pb) {
                assert!(u.equal(v), "{kind} step {step}: parameters differ");
            }
            assert!(
                flatten(oa.momentum()).equal(ob.momentum_flat()),
                "{kind} step {step}: momentum differs"
            );
            assert!(
                flatten(&pb).equal(&x_flat),
                "{kind}: views detached from the flat tensor"
            );
        }
    }
}
