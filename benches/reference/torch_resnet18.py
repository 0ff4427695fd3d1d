#!/usr/bin/env python3
"""PyTorch eager reference for `mslab train` throughput (issue 5, performance).

The same CIFAR-stem ResNet-18 as src/torch/models.rs (3x3 stem, no max-pool, basic blocks
64/128/256/512, 1x1 projection shortcuts, BatchNorm, bias-free convolutions), fp32, the same
synthetic 3x32x32 data held on the GPU, batches drawn by index, SGD momentum 0.9 (lr 0.1,
dampening 0, no weight decay), cross-entropy, 10 classes. Times training steps after a warm-up,
with torch.cuda.synchronize() at both ends. Prints one JSON line per batch size.

  python3 benches/reference/torch_resnet18.py --batch 128 --steps 200 --warmup 10
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.short is None else self.short(x)
        return F.relu(y + s)


class ResNet18(nn.Module):
    def __init__(self, cin=3, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(cin, 64, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(64)
        layers, c = [], 64
        for stage, cout in enumerate([64, 128, 256, 512]):
            for blk in range(2):
                layers.append(Block(c, cout, 2 if stage > 0 and blk == 0 else 1))
                c = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.layers(x)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[128])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    x_all = torch.randn(a.n, 3, 32, 32, device=dev)
    y_all = torch.randint(0, 10, (a.n,), device=dev)
    for b in a.batch:
        model = ResNet18().to(dev).train()
        nparams = sum(p.numel() for p in model.parameters())
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        gen = torch.Generator(device="cpu").manual_seed(1)
        idx = [torch.randperm(a.n, generator=gen)[:b].to(dev) for _ in range(a.steps + a.warmup)]
        t0 = None
        for i, ix in enumerate(idx):
            if i == a.warmup:
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            xb, yb = x_all.index_select(0, ix), y_all.index_select(0, ix)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(json.dumps({
            "impl": "pytorch-eager", "torch": torch.__version__, "device": str(dev),
            "name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "batch": b, "steps": a.steps, "seconds": dt, "images_per_s": a.steps * b / dt,
            "parameters": nparams, "final_loss": float(loss.detach()),
        }), flush=True)


if __name__ == "__main__":
    main()
