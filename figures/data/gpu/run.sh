#!/usr/bin/env bash
# CUDA smoke test + tch-vs-PyTorch-eager throughput, one card, one call.
set -uo pipefail
cd "$(dirname "$0")"
TL=$(python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH=$TL
R=$(mktemp -d)/results
mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $R/nvidia-smi.csv 2>&1
python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())' > $R/pytorch-version.txt 2>&1
echo "== cuda-absent check on a bad index"; ./mslab train --device cuda:9 --dataset synthetic --out $R/bad --quiet > $R/bad-device.txt 2>&1; echo "rc=$?" >> $R/bad-device.txt
run() { local name=$1; shift; ./mslab train "$@" --quiet --out $R/$name > $R/$name.log 2>&1; echo "$name rc=$?"; tail -2 $R/$name.log; }
run tch-r18-b128 --device cuda --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 --epochs 3 --max-steps 220 --warmup-steps 10 --measure-every 0 --seed 1
if grep -q "CUDA is not available" $R/tch-r18-b128.log; then
  echo "dlopen route failed; retrying with LD_PRELOAD=$TL/libtorch_cuda.so" | tee $R/cuda-mode.txt
  export LD_PRELOAD=$TL/libtorch_cuda.so
  run tch-r18-b128 --device cuda --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 --epochs 3 --max-steps 220 --warmup-steps 10 --measure-every 0 --seed 1
else
  echo "dlopen route worked (no LD_PRELOAD)" | tee $R/cuda-mode.txt
fi
python3 ../../benches/reference/torch_resnet18.py --batch 128 8 --steps 200 --warmup 10 > $R/pytorch-eager.jsonl 2> $R/pytorch-eager.err; echo "pytorch rc=$?"; cat $R/pytorch-eager.jsonl
run tch-r18-b8 --device cuda --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 8 --epochs 1 --max-steps 410 --warmup-steps 10 --measure-every 0 --seed 1
run tch-r18-b128-again --device cuda --dataset synthetic --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 --epochs 3 --max-steps 220 --warmup-steps 10 --measure-every 0 --seed 1
# Real data, measured at the default interval (auto: 900 steps at b=128), 4 epochs.
run fm-r18-shb-measured --device cuda --dataset fashion-mnist --data fashion-mnist --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 --epochs 4 --seed 1
run fm-r18-shb-plain --device cuda --dataset fashion-mnist --data fashion-mnist --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 --epochs 4 --seed 1 --measure-every 0
rm -f $R/*/model.pt $R/*/checkpoint.pt
ls -la $R
tar -czf $OUT/results.tar.gz -C $(dirname $R) results
cp $R/pytorch-eager.jsonl $R/cuda-mode.txt $OUT/ 2>/dev/null; for f in $R/*.log; do echo "== $f"; cat $f; done
