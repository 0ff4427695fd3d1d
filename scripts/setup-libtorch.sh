#!/usr/bin/env bash
# Fetch libtorch 2.11.0 (what tch =0.24.0 expects) and the CUDA runtime/CUPTI libraries that
# libtorch_cpu.so needs even for CPU work, from PyPI wheels, into a cache folder outside the
# repository. Idempotent: a second run downloads nothing. Prints the environment to export.
#
#   scripts/setup-libtorch.sh            # cache: ${MSLAB_CACHE:-$HOME/.cache/momentum-smoothing}
#   eval "$(scripts/setup-libtorch.sh --env)"   # only the export lines, for scripts
#
# See ../shared/spec/gpu-and-data.md (or ARCHITECTURE.md) for why these exact wheels.
set -euo pipefail

TORCH_VERSION=2.11.0
CUDA_TOOLKIT_VERSION=13.0.2
CACHE="${MSLAB_CACHE:-$HOME/.cache/momentum-smoothing}"
ROOT="$CACHE/libtorch-$TORCH_VERSION"
WHEELS="$CACHE/wheels"
ENV_ONLY=0
[ "${1:-}" = "--env" ] && ENV_ONLY=1

log() { if [ "$ENV_ONLY" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup-libtorch: '$1' is required" >&2; exit 1; }; }
need python3
need unzip

PIP=(python3 -m pip)
"${PIP[@]}" --version >/dev/null 2>&1 || { echo "setup-libtorch: python3 -m pip is required" >&2; exit 1; }

mkdir -p "$WHEELS" "$ROOT"

if [ ! -f "$ROOT/.torch-done" ]; then
  if ! ls "$WHEELS"/torch-"$TORCH_VERSION"-*.whl >/dev/null 2>&1; then
    log "downloading torch==$TORCH_VERSION wheel (about 530 MB) into $WHEELS"
    "${PIP[@]}" download --quiet --no-deps --only-binary=:all: \
      --python-version 3.12 --platform manylinux_2_28_x86_64 \
      -d "$WHEELS" "torch==$TORCH_VERSION" >&2
  fi
  whl=$(ls "$WHEELS"/torch-"$TORCH_VERSION"-*.whl | head -n1)
  log "unpacking torch/lib, torch/include, torch/share from $(basename "$whl")"
  rm -rf "$ROOT/torch"
  unzip -q -o "$whl" 'torch/lib/*' 'torch/include/*' 'torch/share/*' -d "$ROOT"
  touch "$ROOT/.torch-done"
fi

if [ ! -f "$ROOT/.cuda-done" ]; then
  if ! ls "$WHEELS"/nvidia_cuda_runtime-*.whl >/dev/null 2>&1 || ! ls "$WHEELS"/nvidia_cuda_cupti-*.whl >/dev/null 2>&1; then
    log "downloading cuda-toolkit[cudart,cupti]==$CUDA_TOOLKIT_VERSION wheels (about 13 MB)"
    "${PIP[@]}" download --quiet --only-binary=:all: \
      --python-version 3.12 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_25_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
      -d "$WHEELS" "cuda-toolkit[cudart,cupti]==$CUDA_TOOLKIT_VERSION" >&2
  fi
  for w in "$WHEELS"/nvidia_cuda_runtime-*.whl "$WHEELS"/nvidia_cuda_cupti-*.whl; do
    unzip -q -o "$w" 'nvidia/*' -d "$ROOT"
  done
  touch "$ROOT/.cuda-done"
fi

CUDA_LIB=$(dirname "$(ls "$ROOT"/nvidia/*/lib/libcudart.so.* | head -n1)")
[ -f "$ROOT/torch/lib/libtorch_cpu.so" ] || { echo "setup-libtorch: $ROOT/torch/lib/libtorch_cpu.so missing; delete $ROOT and rerun" >&2; exit 1; }

if [ "$ENV_ONLY" = 0 ]; then
  echo "libtorch $TORCH_VERSION ready in $ROOT/torch. Export:"
fi
echo "export LIBTORCH=$ROOT/torch"
echo "export LIBTORCH_CXX11_ABI=1"
echo "export LD_LIBRARY_PATH=$ROOT/torch/lib:$CUDA_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
