#!/usr/bin/env python3
"""PyTorch reference for `poisonlab bench`: the same two models, data shape,
batch sizes, thread count and timing rule, printing the same table.

    python3 bench/pytorch_reference.py [--samples 8192] [--batch 64,256] [--threads 1]

Models (as harness/model builds them):
  mlp: 784-128-64-10, ReLU.
  cnn: conv 3x3 (1->16, valid) ReLU, max-pool 2x2 (ceil), conv 3x3 (16->32)
       ReLU, max-pool 2x2 (ceil), dense 1152-128 ReLU, dense 128-10.
Training is Adam (lr 1e-3, eps 1e-8) on mean cross-entropy, a fresh shuffle
per epoch, batches gathered from one float32 tensor; inference is softmax
under no_grad; embedding is the input of the last dense layer. Each figure is
the best of --reps timed repetitions after one untimed warm-up.

torch is not a dependency of poisonlab or its CI: install it by hand
(`pip install torch numpy`) to measure the ratio on your machine.
"""
import argparse
import time

import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                                  nn.Linear(128, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def embed(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.embed(x))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(), nn.Linear(32 * 6 * 6, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def embed(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.embed(x))


def train_epoch(model_cls, x, y, batch, gen):
    model = model_cls()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(x.shape[0], generator=gen)
    for start in range(0, x.shape[0], batch):
        idx = order[start:start + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return model


def run_batched(fn, x, batch):
    out = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch):
            out.append(fn(x[start:start + batch]))
    return torch.cat(out)


def best(reps, f):
    f()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--batch", default="64,256")
    ap.add_argument("--model", default="mlp,cnn")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n = args.samples
    x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    models = {"mlp": Mlp, "cnn": Cnn}
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), {n} samples per pass, "
          "best of the timed repetitions.\n")
    print("| model | batch | train samples/s | inference samples/s | embedding samples/s |")
    print("|---|---:|---:|---:|---:|")
    for name in args.model.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            cls = models[name]
            train = best(args.reps, lambda: train_epoch(cls, x, y, batch, gen))
            model = cls().eval()
            infer = best(args.reps, lambda: run_batched(
                lambda b: torch.softmax(model(b), dim=1), x, batch))
            embed = best(args.reps, lambda: run_batched(model.embed, x, batch))
            print(f"| {name} | {batch} | {n / train:.0f} | {n / infer:.0f} | {n / embed:.0f} |")


if __name__ == "__main__":
    main()
