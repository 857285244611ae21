#!/usr/bin/env python3
"""PyTorch peers for every `kelvin bench` workload: the same full training step (forward,
temperature softmax cross-entropy at T=10, backward, SGD momentum 0.9, weight decay 5e-4) on
the same architecture and shapes, timed the same way (median after warm-up).
Prints `<workload> X ms/step`.

  /usr/bin/python3 bench/peers/pytorch_workloads.py --workload resnet18_b32_32px --threads 2
  python3 bench/peers/pytorch_workloads.py --workload resnet18_b128_32px --device cuda
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


def mlp():
    layers, width = [nn.Flatten()], 784
    for _ in range(5):
        layers += [nn.Linear(width, 1024), nn.ReLU()]
        width = 1024
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def vgg11bn(classes=10):
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            c = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, classes))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


def resnet18(classes=10):
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    c = 64
    for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [BasicBlock(c, width, stride), BasicBlock(width, width, 1)]
        c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes))


class Vit(nn.Module):
    def __init__(self, classes=10, patch=4, width=192, depth=6, heads=3, image=32):
        super().__init__()
        self.proj = nn.Conv2d(3, width, patch, patch)
        tokens = (image // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.ln(self.encoder(x))[:, 0])


WORKLOADS = {
    "mlp6x1024_b128": (mlp, (128, 1, 28, 28)),
    "vgg11bn_b32_32px": (vgg11bn, (32, 3, 32, 32)),
    "resnet18_b32_32px": (resnet18, (32, 3, 32, 32)),
    "resnet18_b128_32px": (resnet18, (128, 3, 32, 32)),
    "vit6x192_b32_32px": (Vit, (32, 3, 32, 32)),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    build, shape = WORKLOADS[args.workload]
    model = build().to(args.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(*shape, device=args.device)
    y = torch.randint(0, 10, (shape[0],), device=args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    times = []
    for i in range(args.warmup + args.steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x) / 10.0, y)
        loss.backward()
        opt.step()
        sync()
        if i >= args.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    print(f"{args.workload} {statistics.median(times):.3f} ms/step")


if __name__ == "__main__":
    main()
