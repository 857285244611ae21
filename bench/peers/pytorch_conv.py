#!/usr/bin/env python3
"""PyTorch peer for kelvin's conv2d benchmark: forward + backward (data, weight, bias) of
torch.nn.functional.conv2d on the CPU, float32, at a fixed thread count.

Usage: /usr/bin/python3 bench/peers/pytorch_conv.py [--threads 2] [--reps 10] [--clock cpu]
--clock cpu times by the process's CPU time (as KELVIN_BENCH_CLOCK=cpu does for kelvin_bench_conv):
with --threads 1 on a machine shared with other work, the cost of the work itself.
Prints one line per shape: N C H W O k stride pad, then forward and forward+backward ms.
The shapes are those of ResNet-18 / VGG-11 on 32x32 inputs at batch 32 (see bench_conv).
"""
import argparse
import time

import torch
import torch.nn.functional as F

SHAPES = [  # N, C, H, W, O, k, stride, pad
    (32, 3, 32, 32, 64, 3, 1, 1),
    (32, 64, 32, 32, 64, 3, 1, 1),
    (32, 64, 32, 32, 128, 3, 2, 1),
    (32, 64, 32, 32, 128, 1, 2, 0),
    (32, 128, 16, 16, 128, 3, 1, 1),
    (32, 128, 16, 16, 256, 3, 2, 1),
    (32, 128, 16, 16, 256, 1, 2, 0),
    (32, 256, 8, 8, 256, 3, 1, 1),
    (32, 256, 8, 8, 512, 3, 2, 1),
    (32, 256, 8, 8, 512, 1, 2, 0),
    (32, 512, 4, 4, 512, 3, 1, 1),
    # VGG-11's layers that ResNet-18 lacks.
    (32, 64, 16, 16, 128, 3, 1, 1),
    (32, 128, 8, 8, 256, 3, 1, 1),
    (32, 256, 4, 4, 512, 3, 1, 1),
    (32, 512, 2, 2, 512, 3, 1, 1),
]


def time_ms(fn, reps, clock=time.perf_counter):
    fn()
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    print("# N C H W O k s p  fwd_ms  fwd+bwd_ms")
    for (n, c, h, w, o, k, s, p) in SHAPES:
        x = torch.randn(n, c, h, w, requires_grad=True)
        weight = torch.randn(o, c, k, k, requires_grad=True)
        bias = torch.randn(o, requires_grad=True)

        def forward():
            with torch.no_grad():
                F.conv2d(x, weight, bias, stride=s, padding=p)

        def step():
            y = F.conv2d(x, weight, bias, stride=s, padding=p)
            y.backward(torch.ones_like(y))
            x.grad = None
            weight.grad = None
            bias.grad = None

        print(f"{n} {c} {h} {w} {o} {k} {s} {p}  {time_ms(forward, args.reps, clock):.3f}  "
              f"{time_ms(step, args.reps, clock):.3f}", flush=True)


if __name__ == "__main__":
    main()
