#!/usr/bin/env bash
# A Slurm job array for sweeps that outgrow one machine: task k of n runs shard k/n of the same
# sweep file into the same output folder (on shared storage). Shards are disjoint (run index
# ≡ k mod n), every run writes its own folder atomically, and finished runs are skipped, so a
# failed or pre-empted task is simply resubmitted (`sbatch --array=K scripts/slurm-sweep.sh …`).
#
#   sbatch --array=0-3 scripts/slurm-sweep.sh sweeps/gpu-r18-b128.toml runs/r18-b128
#
# Each task gets one node with GPUS GPUs and runs JOBS runs at once, handed out round-robin over
# its GPUs. Build first (README, "Real networks on GPU"): target/release/mslab with the torch
# feature, and export the LD_LIBRARY_PATH that scripts/setup-libtorch.sh prints.
#SBATCH --job-name=mslab-sweep
#SBATCH --nodes=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=12:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
SWEEP=${1:?usage: sbatch --array=0-N scripts/slurm-sweep.sh SWEEP.toml OUT_DIR}
OUT=${2:?usage: sbatch --array=0-N scripts/slurm-sweep.sh SWEEP.toml OUT_DIR}
MSLAB=${MSLAB:-target/release/mslab}
GPUS=${GPUS:-${SLURM_GPUS_ON_NODE:-4}}
JOBS=${JOBS:-$((GPUS * 4))}
k=${SLURM_ARRAY_TASK_ID:?not inside a Slurm array job}
n=${SLURM_ARRAY_TASK_COUNT:?not inside a Slurm array job}
devices=$(seq -s, -f 'cuda:%g' 0 $((GPUS - 1)))
exec "$MSLAB" sweep "$SWEEP" --out "$OUT" --shard "$k/$n" --jobs "$JOBS" --devices "$devices"
