#!/usr/bin/env bash
# GPU campaign for issue 6 (claim C11; C4, C7, C10 on a real network).
#
# Here (no GPU):   scripts/gpu-campaign.sh pack [BINARY]
#   copies a stripped mslab built with --features torch (default: the release build in
#   $CARGO_TARGET_DIR) and the gzipped Fashion-MNIST into gpu-carry/ (ignored by git through
#   .git/info/exclude; name it in the device call's `carry`), with the commit it was built at.
# On the device:   scripts/gpu-campaign.sh calibrate | main | phase2 | extend SPEC... | sweep SWEEP.toml [JOBS] [DEVICES]
#   sets LD_LIBRARY_PATH to PyTorch's lib folder, runs, and packs the small result files
#   (summary.json, series.csv, epochs.csv, index.*; never checkpoints or model.pt) into
#   $OUT/results.tar.gz, with $OUT/env.txt (nvidia-smi, torch version, commit).
# Back here:       scripts/gpu-campaign.sh unpack FILES_AT DEST   (e.g. figures/data/gpu/main)
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=gpu-carry
mode="${1:-}"; shift || true

torchlib() { python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))'; }

device_env() {
  local t; t=$(torchlib)
  export LD_LIBRARY_PATH="$t/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export MSLAB_LIBTORCH_CUDA="$t/lib/libtorch_cuda.so"
  mkdir -p /tmp/fm && cp -n "$CARRY"/data/fashion-mnist/* /tmp/fm/ 2>/dev/null || true
  {
    echo "commit: $(cat "$CARRY/COMMIT" 2>/dev/null || echo unknown)"
    echo "date: $(date -u +%FT%TZ)"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' || true
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv || true
    nproc
  } > "${OUT:-/tmp}/env.txt" 2>&1
}

pack_results() {
  local src=$1
  ( cd "$src" && find . \( -name summary.json -o -name series.csv -o -name epochs.csv -o -name gnorm.csv -o -name fgnorm.csv -o -name 'index*' -o -name 'log*.txt' \) -print0 \
      | tar --null -czf "$OUT/results.tar.gz" -T - )
}

case "$mode" in
  pack)
    bin="${1:-${CARGO_TARGET_DIR:-target}/release/mslab}"
    mkdir -p "$CARRY/data/fashion-mnist"
    cp "$bin" "$CARRY/mslab" && strip "$CARRY/mslab"
    data="${MSLAB_DATA:-${MSLAB_CACHE:-$HOME/.cache/momentum-smoothing}/data}/fashion-mnist"
    [ -f "$data/train-images-idx3-ubyte.gz" ] || scripts/fetch-data.sh fashion-mnist
    cp "$data"/*.gz "$CARRY/data/fashion-mnist/"
    git rev-parse HEAD > "$CARRY/COMMIT"
    grep -qx '/gpu-carry/' .git/info/exclude 2>/dev/null || echo '/gpu-carry/' >> .git/info/exclude
    du -sh "$CARRY"
    ;;
  calibrate)
    device_env
    r=/tmp/cal; mkdir -p $r
    ngpu=$(nvidia-smi -L | wc -l)
    # Per GPU: ResNet-18 at b = 16 and b = 256 alone, then 4 runs at once at b = 32 on GPU 0.
    for g in $(seq 0 $((ngpu - 1))); do
      ( "$CARRY/mslab" train --dataset fashion-mnist --data /tmp/fm --model resnet18 --norm batch \
          --optimizer shb --batch 16 --max-steps 400 --measure-every 200 --device cuda:$g --quiet --out $r/b16-g$g \
        && "$CARRY/mslab" train --dataset fashion-mnist --data /tmp/fm --model resnet18 --norm batch \
          --optimizer shb --batch 256 --max-steps 150 --measure-every 50 --device cuda:$g --quiet --out $r/b256-g$g ) \
        > $r/log-g$g.txt 2>&1 &
    done
    wait
    for j in 0 1 2 3; do
      "$CARRY/mslab" train --dataset fashion-mnist --data /tmp/fm --model resnet18 --norm batch \
        --optimizer shb --batch 32 --max-steps 300 --measure-every 0 --device cuda:0 --quiet --out $r/conc4-$j > $r/log-c$j.txt 2>&1 &
    done
    wait
    pack_results $r
    ;;
  sweep)
    device_env
    sweep=$1; jobs=${2:-8}; devs=${3:-cuda:0}
    r=/tmp/runs; mkdir -p $r
    set +e
    date -u +%s > $r/log-start.txt
    timeout "${LIMIT:-540}" "$CARRY/mslab" sweep "$sweep" --out $r --jobs "$jobs" --devices "$devs" > $r/log-sweep.txt 2>&1
    echo "sweep exit $?" >> $r/log-sweep.txt
    date -u +%s > $r/log-end.txt
    pack_results $r
    ;;
  main)
    # The C11 grid: six sweeps (one per batch size) at once, 18 runs at a time over 4 GPUs
    # (4–5 per GPU), stopped after ${LIMIT:-500} s so the results always come back.
    device_env
    r=/tmp/runs; mkdir -p $r
    lim=${LIMIT:-500}
    spec=("32 5 cuda:0,cuda:1,cuda:2,cuda:3" "64 4 cuda:0,cuda:1,cuda:2,cuda:3"
          "128 3 cuda:1,cuda:2,cuda:3" "256 2 cuda:0,cuda:1" "512 2 cuda:2,cuda:3" "1024 2 cuda:3,cuda:2")
    date -u +%s > $r/log-start.txt
    set +e
    for s in "${spec[@]}"; do
      set -- $s
      timeout "$lim" "$CARRY/mslab" sweep "sweeps/gpu-r18-b$1.toml" --out "$r/b$1" --jobs "$2" --devices "$3" \
        > "$r/log-b$1.txt" 2>&1 &
    done
    wait
    date -u +%s > $r/log-end.txt
    nvidia-smi >> $r/log-end.txt 2>&1
    pack_results $r
    ;;
  phase2)
    # GroupNorm core (SGD, SHB, NSHB at η = 0.1) and SGD at the matched η/(1−β) = 1.0 (BatchNorm
    # and GroupNorm): twelve sweeps at once, 18 runs at a time over 4 GPUs.
    device_env
    r=/tmp/runs; mkdir -p $r
    lim=${LIMIT:-400}
    spec=("gn 32 3 cuda:0,cuda:1,cuda:2" "sgd1 32 2 cuda:3,cuda:0" "gn 64 2 cuda:1,cuda:2" "sgd1 64 2 cuda:3,cuda:0"
          "gn 128 2 cuda:1,cuda:2" "sgd1 128 1 cuda:3" "gn 256 1 cuda:0" "sgd1 256 1 cuda:1"
          "gn 512 1 cuda:2" "sgd1 512 1 cuda:3" "gn 1024 1 cuda:0" "sgd1 1024 1 cuda:1")
    date -u +%s > $r/log-start.txt
    set +e
    for s in "${spec[@]}"; do
      set -- $s
      timeout "$lim" "$CARRY/mslab" sweep "sweeps/gpu-$1-b$2.toml" --out "$r/$1-b$2" --jobs "$3" --devices "$4" \
        > "$r/log-$1-b$2.txt" 2>&1 &
    done
    wait
    date -u +%s > $r/log-end.txt
    pack_results $r
    ;;
  extend)
    # Add runs (e.g. a further seed) to committed sweeps without rerunning finished ones: each
    # spec "SWEEP DIR JOBS DEVICES" copies figures/data/gpu/runs/DIR (its complete runs are then
    # skipped) and runs the sweeps at once, stopped after ${LIMIT:-400} s. Packs the new
    # summary/series/epochs files and the indexes.
    device_env
    r=/tmp/runs; mkdir -p $r
    lim=${LIMIT:-400}
    date -u +%s > $r/log-start.txt
    set +e
    for s in "$@"; do
      set -- $s
      mkdir -p "$r/$2"
      [ -d "figures/data/gpu/runs/$2" ] && cp -r "figures/data/gpu/runs/$2/." "$r/$2/"
      timeout "$lim" "$CARRY/mslab" sweep "sweeps/$1.toml" --out "$r/$2" --jobs "$3" --devices "$4" \
        > "$r/log-$2.txt" 2>&1 &
    done
    wait
    date -u +%s > $r/log-end.txt
    pack_results $r
    ;;
  unpack)
    at=$1; dest=$2
    mkdir -p "$dest"
    tar -xzf "$at/results.tar.gz" -C "$dest"
    cp "$at/env.txt" "$dest/env.txt"
    ;;
  *)
    echo "usage: scripts/gpu-campaign.sh pack [BINARY] | calibrate | extend SPEC... | sweep SWEEP.toml [JOBS] [DEVICES] | unpack FILES_AT DEST" >&2
    exit 2
    ;;
esac
