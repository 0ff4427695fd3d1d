#!/usr/bin/env bash
# Scaling of `mslab simulate` (SHB, η = 0.002, β = 0.9, b = 32, Rastrigin, Gaussian σ = 1, ω every
# step): wall time and peak memory (max RSS) versus seeds, steps, dimension (up to 10⁶ with a
# few seeds) and threads (RAYON_NUM_THREADS = 1 vs 2). Writes a CSV to stdout (and to
# figures/data/bench-scaling.csv with --save).
# Usage: scripts/bench-scaling.sh [--save]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin mslab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
landscape() { # dim -> file
  local f="$tmp/rastrigin-$1.toml"
  printf 'name = "rastrigin-%s"\nkind = "rastrigin"\ndim = %s\n[params]\namplitude = 10.0\n[noise]\nlaw = "gaussian"\nsigma = 1.0\n[init]\nlow = -5.12\nhigh = 5.12\n' "$1" "$1" >"$f"
  echo "$f"
}
out="$tmp/scaling.csv"
echo "axis,threads,dim,seeds,steps,coord_steps,wall_s,max_rss_mib,mcoord_steps_per_s,load1" >"$out"
measure() { # axis threads dim seeds steps
  local file; file=$(landscape "$3")
  local t="$tmp/time"
  RAYON_NUM_THREADS=$2 /usr/bin/time -f "%e %M" -o "$t" ./target/release/mslab simulate \
    --landscape "$file" --optimizer shb --lr 0.002 --batch 32 --beta 0.9 \
    --steps "$5" --seeds "$4" --json >/dev/null
  read -r wall rss <"$t"
  python3 - "$@" "$wall" "$rss" "$(cut -d' ' -f1 /proc/loadavg)" >>"$out" <<'PY'
import sys
axis, th, d, s, n, wall, rss, load = sys.argv[1:]
work = int(d) * int(s) * int(n)
# /usr/bin/time has 10 ms resolution: no rate below 50 ms of wall time.
rate = f"{work / float(wall) / 1e6:.1f}" if float(wall) >= 0.05 else ""
print(f"{axis},{th},{d},{s},{n},{work},{float(wall):.3f},{int(rss)/1024:.1f},{rate},{load}")
PY
}
for s in 10 100 1000; do measure seeds 2 100 "$s" 1000; done
for n in 100 1000 10000; do measure steps 2 100 100 "$n"; done
for d in 10 100 1000 10000 100000 1000000; do
  seeds=$(( d >= 100000 ? 4 : 100 )); steps=$(( d >= 100000 ? 100 : 1000 ))
  measure dim 2 "$d" "$seeds" "$steps"
done
for th in 1 2; do measure threads "$th" 100 1000 1000; done
cat "$out"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
if [[ "${1:-}" == "--save" ]]; then
  mkdir -p figures/data
  cp "$out" figures/data/bench-scaling.csv.tmp && mv figures/data/bench-scaling.csv.tmp figures/data/bench-scaling.csv
fi
