#!/usr/bin/python3
"""Training-step throughput of the same networks as alphax_train_throughput, in PyTorch (CPU).

Prints one line "pytorch <net> images_per_second <x>" per repeat. Usage:
  /usr/bin/python3 pytorch_step.py --net nb201|plain [--batch 128] [--threads 2] [--steps 20]
                                   [--warmup 3] [--repeats 1] [--channels C] [--seed 1]
The networks mirror lib/train/src/network.cpp: NB201 skeleton (stem conv3x3+BN, N cells per stage,
residual reduction blocks, BN-ReLU, global average pool, linear) and the plain 3-conv CNN.
"""
import argparse
import time

import torch
import torch.nn as nn

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(cout))


class Pool3x3(nn.AvgPool2d):
    def __init__(self):
        super().__init__(3, stride=1, padding=1, count_include_pad=False)


class Cell(nn.Module):
    def __init__(self, arch, c):
        super().__init__()
        self.nodes = []  # per node: list of (from, op index)
        self.ops = nn.ModuleList()
        for group in arch.split("+"):
            edges = []
            for token in group.strip("|").split("|"):
                op, src = token.split("~")
                if op == "none":
                    continue
                if op == "skip_connect":
                    module = nn.Identity()
                elif op == "avg_pool_3x3":
                    module = Pool3x3()
                elif op == "nor_conv_3x3":
                    module = ReLUConvBN(c, c, 3, 1)
                elif op == "nor_conv_1x1":
                    module = ReLUConvBN(c, c, 1, 1)
                else:
                    raise ValueError("unknown op " + op)
                edges.append((int(src), len(self.ops)))
                self.ops.append(module)
            self.nodes.append(edges)

    def forward(self, x):
        outs = [x]
        for edges in self.nodes:
            parts = [self.ops[i](outs[src]) for src, i in edges]
            outs.append(sum(parts) if parts else torch.zeros_like(x))
        return outs[-1]


class Reduction(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = ReLUConvBN(cin, cout, 3, 2)
        self.b = ReLUConvBN(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.shortcut(x)


def nb201(c, n=1, classes=10):
    layers = [nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
    ch = c
    for stage in range(3):
        if stage > 0:
            layers.append(Reduction(ch, 2 * ch))
            ch *= 2
        layers += [Cell(CELL, ch) for _ in range(n)]
    layers += [nn.BatchNorm2d(ch), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, classes)]
    return nn.Sequential(*layers)


def plain(c, classes=10):
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(1, c), nn.MaxPool2d(2, 2), *block(c, 2 * c), nn.MaxPool2d(2, 2),
                         *block(2 * c, 4 * c), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * c, classes))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="nb201", choices=["nb201", "plain"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--channels", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = a.channels or (16 if a.net == "nb201" else 32)
    model = nb201(c) if a.net == "nb201" else plain(c)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        s = time.perf_counter() - t0
        print("pytorch %s images_per_second %.1f" % (a.net, a.batch * a.steps / s), flush=True)


if __name__ == "__main__":
    main()
