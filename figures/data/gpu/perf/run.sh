#!/usr/bin/env bash
# Issue 8 item 4, one device call: (a) tch (`mslab train`) vs PyTorch eager throughput,
# alternated, same card; (b) instrument overhead at k = 1, 16, 256 per instrument group;
# (c) several runs per GPU and 1 vs 2 GPUs (independent runs).
#
# Here:  cp $CARGO_TARGET_DIR/debug/mslab target/gpu-carry/perf/mslab && strip target/gpu-carry/perf/mslab
# Device (run tool, carry target/gpu-carry/perf):  bash figures/data/gpu/perf/run.sh
# Writes a few JSON-lines files to $OUT as it goes (what is there survives a timeout).
set -uo pipefail
cd "$(dirname "$0")/../../../.."
M=${MSLAB:-target/gpu-carry/perf/mslab}
O=${OUT:-/tmp/perf-out}; mkdir -p "$O"
TL=$(python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH=$TL MSLAB_LIBTORCH_CUDA=$TL/libtorch_cuda.so
R=/tmp/perf; rm -rf $R; mkdir -p $R
{ echo "commit $(cat "$(dirname "$M")/COMMIT" 2>/dev/null)"; date -u +%FT%TZ
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv; nproc; } > $O/env.txt 2>&1
NGPU=$(nvidia-smi -L | wc -l)
# summary.json (+ series.csv: measurement seconds of the timed steps) -> one JSON line
summ() { python3 - "$@" <<'EOF'
import json, sys, csv, os
tag, d = sys.argv[1], sys.argv[2]
s = json.load(open(os.path.join(d, "summary.json")))
c, t = s["config"], s["timing"]
meas_timed, n_meas = 0.0, 0
p = os.path.join(d, "series.csv")
if os.path.exists(p):
    for r in csv.DictReader(open(p)):
        if int(r["step"]) >= c["warmup_steps"]:
            meas_timed += float(r["seconds"]); n_meas += 1
print(json.dumps({"tag": tag, "impl": "tch", "batch": c["batch"], "steps": s["steps"],
  "device": s["device"]["name"], "train_seconds": t["train_seconds"], "train_images": t["train_images"],
  "images_per_s": t["train_images_per_s"], "measure_every": s["measure_every"],
  "measure_seconds_timed": meas_timed, "measurements_timed": n_meas,
  "instruments": "gradient" if c["measure"].get("noise") is False else "all"}))
EOF
}
tch() { # tag batch steps device extra...
  local tag=$1 b=$2 n=$3 dev=$4; shift 4
  $M train --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 \
    --batch $b --epochs 1000 --max-steps $n --warmup-steps 10 --seed 1 --device $dev --quiet \
    --out $R/$tag "$@" > $R/$tag.log 2>&1 || { echo "$tag failed"; tail -3 $R/$tag.log; }
  rm -f $R/$tag/*.pt
}
py() { python3 benches/reference/torch_resnet18.py --batch "$@" --warmup 10 2>>$O/log.txt; }

echo "== (a) throughput, alternated"
for rep in $( [ -n "${SKIP_A:-}" ] || echo 1 2 3 4); do
  tch a-b128-r$rep 128 610 cuda:0 --measure-every 0; summ a-b128-r$rep $R/a-b128-r$rep >> $O/throughput.jsonl
  py 128 --steps 600 | sed "s/^{/{\"tag\": \"a-b128-r$rep\", /" >> $O/throughput.jsonl
  tch a-b8-r$rep 8 410 cuda:0 --measure-every 0; summ a-b8-r$rep $R/a-b8-r$rep >> $O/throughput.jsonl
  py 8 --steps 400 | sed "s/^{/{\"tag\": \"a-b8-r$rep\", /" >> $O/throughput.jsonl
done
cat $O/throughput.jsonl

echo "== (b) instrument overhead, b = 128"
tch b-plain1 128 522 cuda:0 --measure-every 0; summ b-plain1 $R/b-plain1 >> $O/overhead.jsonl
for g in gradient all; do
  for k in 1 16 256; do
    n=522; [ $k = 1 ] && n=50
    tch b-$g-k$k 128 $n cuda:0 --measure-every $k --instruments $g; summ b-$g-k$k $R/b-$g-k$k >> $O/overhead.jsonl
  done
done
tch b-plain2 128 522 cuda:0 --measure-every 0; summ b-plain2 $R/b-plain2 >> $O/overhead.jsonl
cat $O/overhead.jsonl

echo "== (c) runs per GPU and GPUs (independent runs, b = 128, 610 steps, 100 warm-up)"
group() { # tag then a list of devices, one run each, all at once
  local tag=$1; shift; local i=0 t0; t0=$(date +%s.%N)
  for d in "$@"; do
    $M train --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 \
      --batch 128 --epochs 1000 --max-steps 610 --warmup-steps 100 --seed $((i + 1)) --device $d \
      --measure-every 0 --quiet --out $R/$tag-$i > $R/$tag-$i.log 2>&1 &
    i=$((i + 1))
  done
  wait; local t1; t1=$(date +%s.%N)
  for j in $(seq 0 $((i - 1))); do summ $tag-$j $R/$tag-$j | sed "s/^{/{\"group\": \"$tag\", \"runs\": $i, \"wall\": $(python3 -c "print($t1 - $t0)"), /" >> $O/sweep.jsonl; rm -f $R/$tag-$j/*.pt; done
}
group c-1x1 cuda:0
group c-2x1 cuda:0 cuda:0
group c-4x1 cuda:0 cuda:0 cuda:0 cuda:0
if [ "$NGPU" -ge 2 ]; then
  group c-1x2 cuda:0 cuda:1
  group c-2x2 cuda:0 cuda:0 cuda:1 cuda:1
fi
if [ "$NGPU" -ge 4 ]; then
  group c-1x4 cuda:0 cuda:1 cuda:2 cuda:3
  group c-2x4 cuda:0 cuda:0 cuda:1 cuda:1 cuda:2 cuda:2 cuda:3 cuda:3
fi
group c-1x1-again cuda:0   # drift of the one-GPU baseline over the call
cat $O/sweep.jsonl
