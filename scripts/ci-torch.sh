#!/usr/bin/env bash
# CI for the `torch` feature, on CPU: fetch libtorch 2.11.0 (cached), build with
# --features torch and run the torch tests (tests/torch_*.rs). No GPU and no data download
# needed: the tests write their own small data files.
#
#   scripts/ci-torch.sh
# Env: MSLAB_CACHE (libtorch cache, default ~/.cache/momentum-smoothing),
#      CARGO_TARGET_DIR (default target/torch, separate from the default build, so the feature build
#      does not invalidate the default one).
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/setup-libtorch.sh --env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/torch}"
# libtorch's intra-op threads: keep the CPU test run polite on small CI machines.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

tests=()
for f in tests/torch_*.rs; do
  t=$(basename "$f" .rs)
  tests+=(--test "$t")
done

# The test profile, like `cargo test`: with CARGO_TARGET_DIR=target (what .ci/run passes) the
# dependencies the default build already compiled are reused; libtorch's C++ wrapper compiles
# once; the tests build the mslab binary too.
cargo test --features torch "${tests[@]}" -- --test-threads=2
