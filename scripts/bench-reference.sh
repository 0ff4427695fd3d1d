#!/usr/bin/env bash
# The core engine's reference workload, side by side in one invocation:
#   SHB (η = 0.002, β = 0.9, b = 32) on the 100-d Rastrigin (amplitude 10), Gaussian σ = 1,
#   SEEDS seeds × STEPS steps, ω measured every step.
# 1. `mslab simulate --json` (release build), 2. the vectorised NumPy reference
# (benches/reference/shb_rastrigin.py). Prints both times and the ratio.
# Usage: scripts/bench-reference.sh [SEEDS] [STEPS]   (defaults 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1000}
STEPS=${2:-10000}
python3 -c 'import numpy' 2>/dev/null || pip install --quiet numpy
cargo build --release --quiet --bin mslab
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rust=$(./target/release/mslab simulate --landscape landscapes/rastrigin-100d.toml --optimizer shb \
  --lr 0.002 --batch 32 --beta 0.9 --steps "$STEPS" --seeds "$SEEDS" --json \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["elapsed_s"], d["omega_norm_mean"])')
py=$(python3 benches/reference/shb_rastrigin.py --seeds "$SEEDS" --steps "$STEPS" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["elapsed_s"], d["omega_norm_mean"])')
read -r rt romega <<<"$rust"
read -r pt pomega <<<"$py"
python3 - "$rt" "$pt" "$romega" "$pomega" "$SEEDS" "$STEPS" <<'PY'
import sys
rt, pt, ro, po, seeds, steps = map(float, sys.argv[1:])
work = seeds * steps * 100
print(f"mslab simulate : {rt:8.2f} s  ({work / rt / 1e6:7.1f} M coordinate-steps/s)  E|omega| = {ro:.4f}")
print(f"NumPy reference: {pt:8.2f} s  ({work / pt / 1e6:7.1f} M coordinate-steps/s)  E|omega| = {po:.4f}")
print(f"speed-up       : {pt / rt:8.2f} x")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
