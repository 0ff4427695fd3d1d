#!/usr/bin/env python3
"""Vectorized NumPy reference for the core engine's reference workload.

SHB (eta = 0.002, beta = 0.9, b = 32) on the 100-dimensional Rastrigin (amplitude 10) with
isotropic Gaussian per-sample noise sigma = 1, 1,000 seeds x 10,000 steps, omega measured every
step: ||omega||, ||omega||^2, cos(d, grad f), bias / random split, f(x_t), ||grad f||^2. All seeds
advance together as one (seeds, d) array. Prints one JSON object with the wall time.

Usage: python3 benches/reference/shb_rastrigin.py [--seeds 1000] [--steps 10000] [--dim 100]
"""
import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    eta, beta, b, sigma, amp = 0.002, 0.9, 32, 1.0, 10.0
    rng = np.random.default_rng(a.seed)
    x = rng.uniform(-5.12, 5.12, size=(a.seeds, a.dim))
    m = np.zeros_like(x)
    two_pi = 2.0 * np.pi
    s = sigma / np.sqrt(b)
    sums = np.zeros((6, a.seeds))
    t0 = time.perf_counter()
    for _ in range(a.steps):
        ang = two_pi * x
        grad = 2.0 * x + two_pi * amp * np.sin(ang)
        loss = amp * a.dim + np.sum(x * x - amp * np.cos(ang), axis=1)
        g = grad + s * rng.standard_normal(size=x.shape)
        bias = beta * m                      # E[omega | past] for SHB
        m = g + beta * m                     # d_t = m_t
        omega = m - grad
        w2 = np.einsum("ij,ij->i", omega, omega)
        dg = np.einsum("ij,ij->i", m, grad)
        dd = np.einsum("ij,ij->i", m, m)
        gg = np.einsum("ij,ij->i", grad, grad)
        r = omega - bias
        sums[0] += np.sqrt(w2)
        sums[1] += w2
        sums[2] += dg / np.sqrt(dd * gg)
        sums[3] += np.einsum("ij,ij->i", bias, bias)
        sums[4] += np.einsum("ij,ij->i", r, r)
        sums[5] += loss
        x -= eta * m
    elapsed = time.perf_counter() - t0
    means = sums / a.steps
    print(json.dumps({
        "elapsed_s": elapsed,
        "seeds": a.seeds, "steps": a.steps, "dim": a.dim,
        "omega_norm_mean": float(means[0].mean()),
        "omega_norm_sq_mean": float(means[1].mean()),
        "cos_angle_mean": float(means[2].mean()),
        "throughput_coord_steps_per_s": a.seeds * a.steps * a.dim / elapsed,
    }))


if __name__ == "__main__":
    main()
