#!/usr/bin/env python3
"""PyTorch peer for `kelvin bench --workload mlp6x1024_b128`: the same full training step
(forward, temperature softmax cross-entropy, backward, SGD with momentum and weight decay) of a
6-layer width-1024 ReLU MLP on a 784-input batch of 128 with 10 classes.
Prints `mlp6x1024_b128 X ms/step` (median of timed steps after warm-up)."""
import argparse
import statistics
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--temperature", type=float, default=10.0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers, width = [], 784
    for _ in range(5):
        layers += [torch.nn.Linear(width, 1024), torch.nn.ReLU()]
        width = 1024
    layers.append(torch.nn.Linear(width, 10))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(128, 784)
    y = torch.randint(0, 10, (128,))
    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x) / args.temperature, y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1e3)
    print(f"mlp6x1024_b128 {statistics.median(times):.3f} ms/step")


if __name__ == "__main__":
    main()
