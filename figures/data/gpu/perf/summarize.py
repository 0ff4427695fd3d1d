#!/usr/bin/env python3
"""Tables of README.md from throughput.jsonl, overhead.jsonl, sweep.jsonl (this folder, or the folder given as the argument)."""
import json, os, statistics as st
import sys
d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rd = lambda f: [json.loads(l) for l in open(os.path.join(d, f)) if l.strip()]
print("## (a) throughput, images/s (tch run, then PyTorch eager run, same card)\n")
print("| batch | rep | tch | PyTorch eager | ratio |\n|---|---|---|---|---|")
rs = {}
rows = rd("throughput.jsonl")
for t in rows:
    if t["impl"] != "tch":
        continue
    p = next(r for r in rows if r["tag"] == t["tag"] and r["impl"] == "pytorch-eager")
    r = t["images_per_s"] / p["images_per_s"]
    rs.setdefault(t["batch"], []).append(r)
    print(f"| {t['batch']} | {t['tag'][-1]} | {t['images_per_s']:,.0f} | {p['images_per_s']:,.0f} | {r:.3f} |")
for b, v in rs.items():
    print(f"\nb = {b}: mean ratio {st.mean(v):.3f} (min {min(v):.3f}, max {max(v):.3f})")
print("\n## (b) overhead: time per timed step with measurement every k steps / without\n")
ov = rd("overhead.jsonl")
plain = [r["train_seconds"] / (r["train_images"] / r["batch"]) for r in ov if r["measure_every"] == 0]
base = st.mean(plain)
print(f"plain: {', '.join(f'{1e3*p:.2f}' for p in plain)} ms/step (mean {1e3*base:.2f})\n")
print("| instruments | k | timed steps | measurements | s per measurement | ratio |\n|---|---|---|---|---|---|")
for r in ov:
    if r["measure_every"] == 0:
        continue
    n = r["train_images"] / r["batch"]
    per = (r["train_seconds"] + r["measure_seconds_timed"]) / n
    pm = r["measure_seconds_timed"] / max(r["measurements_timed"], 1)
    print(f"| {r['instruments']} | {r['measure_every']} | {n:.0f} | {r['measurements_timed']} | {pm:.3f} | {per/base:.2f}× |")
print("\n## (c) independent runs: runs per GPU × GPUs, b = 128\n")
sw = rd("sweep.jsonl")
single = [r["images_per_s"] for r in sw if r["group"] == "c-1x1"][0]
print("| runs × GPUs | per run images/s | total images/s | vs one run | wall s |\n|---|---|---|---|---|")
for g in dict.fromkeys(r["group"] for r in sw):
    v = [r for r in sw if r["group"] == g]
    tot = sum(r["images_per_s"] for r in v)
    print(f"| {g[2:]} | {', '.join(format(r['images_per_s'], ',.0f') for r in v)} | {tot:,.0f} | {tot/single:.2f}× | {v[0]['wall']:.1f} |")
