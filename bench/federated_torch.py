#!/usr/bin/env python3
"""PyTorch reference for poisonlab's federated benchmark: the same MLP,
federation shape, local training, FedAvg rule and timing rule, printing
total and per-round seconds with a breakdown.

    python3 bench/federated_torch.py [--rounds 100] [--clients 50] [--per-round 5]
        [--samples 60000] [--local-epochs 1] [--batch 32] [--optimizer sgd|adam]
        [--threads 1] [--reps 3]

Data: --samples MNIST-sized samples (float32 uniform in [0,1], 784 features,
labels uniform over 10 classes, numpy seed 0; the content does not matter for
timing), split IID (one seeded shuffle, then equal parts) over --clients
clients: 60 000 / 50 = 1 200 samples each by default. Each client holds its
own float32 tensor; a 10 000-sample test set is drawn the same way.

Model: mlp 784-128-64-10, ReLU (as in bench/pytorch_reference.py and
harness/model).

Each round the server samples --per-round clients without replacement.
Clients run one after another (sequentially, in this one process; no
client-level parallelism, only torch's intra-op threads). Each selected client
copies the flat global weight vector into its model, builds a fresh optimiser
(sgd: plain SGD, lr 0.01, no momentum; adam: Adam, lr 1e-3, eps 1e-8) and
trains --local-epochs epochs: a fresh shuffle per epoch, batches of --batch
gathered from its tensor by shuffled index, mean cross-entropy,
zero_grad / backward / step. Its update is its flattened weights minus the
global vector. The server averages the updates weighted by sample count
(FedAvg) and adds the average to the global vector (server lr 1.0).

Timing: one untimed warm-up federation, then --reps timed federations from
the same initial model and seeds; the figures are those of the fastest.
"local training" includes copying the global weights in and building the
optimiser; "update/flatten" is parameters_to_vector minus the global vector;
"aggregation" is the weighted average plus the server step; "other" is the
rest of the round loop (client sampling, Python overhead). Accuracy on the
test set after the last round is evaluated outside the total and timed on
its own.

torch is not a dependency of poisonlab or its CI: install it by hand
(`pip install torch numpy`, or the CPU-only wheel with
`pip install torch --index-url https://download.pytorch.org/whl/cpu`) to
measure the ratio on your machine.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                                  nn.Linear(128, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.body(x))


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=n, dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def split_iid(x, y, clients, seed):
    order = np.random.default_rng(seed).permutation(x.shape[0])
    parts = np.array_split(order, clients)
    # Each client owns a contiguous copy of its samples.
    return [(x[torch.from_numpy(p)].contiguous(), y[torch.from_numpy(p)].contiguous())
            for p in parts]


def make_optimizer(name, params, lr):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01 if lr is None else lr)
    return torch.optim.Adam(params, lr=1e-3 if lr is None else lr, eps=1e-8)


def local_train(model, cx, cy, args, gen):
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr)
    n = cx.shape[0]
    for _ in range(args.local_epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, args.batch):
            idx = order[start:start + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(cx[idx]), cy[idx])
            loss.backward()
            opt.step()


def federate(init_vec, clients, args):
    """One full federation; returns (global vector, timings dict)."""
    gen = torch.Generator().manual_seed(0)
    pick = np.random.default_rng(1)
    local = Mlp()
    global_vec = init_vec.clone()
    t = {"train": 0.0, "update": 0.0, "aggregate": 0.0}
    t_start = time.perf_counter()
    for _ in range(args.rounds):
        chosen = pick.choice(len(clients), size=args.per_round, replace=False)
        updates, counts = [], []
        for c in chosen:
            cx, cy = clients[c]
            t0 = time.perf_counter()
            with torch.no_grad():
                vector_to_parameters(global_vec, local.parameters())
            local_train(local, cx, cy, args, gen)
            t1 = time.perf_counter()
            with torch.no_grad():
                updates.append(parameters_to_vector(local.parameters()) - global_vec)
            counts.append(cx.shape[0])
            t2 = time.perf_counter()
            t["train"] += t1 - t0
            t["update"] += t2 - t1
        t0 = time.perf_counter()
        with torch.no_grad():
            total = float(sum(counts))
            avg = torch.zeros_like(global_vec)
            for u, k in zip(updates, counts):
                avg.add_(u, alpha=k / total)
            global_vec.add_(avg, alpha=args.server_lr)
        t["aggregate"] += time.perf_counter() - t0
    t["total"] = time.perf_counter() - t_start
    return global_vec, t


def evaluate(vec, tx, ty, batch=1000):
    model = Mlp().eval()
    with torch.no_grad():
        vector_to_parameters(vec, model.parameters())
        correct = 0
        for start in range(0, tx.shape[0], batch):
            pred = model(tx[start:start + batch]).argmax(dim=1)
            correct += int((pred == ty[start:start + batch]).sum())
    return correct / tx.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--test-samples", type=int, default=10000)
    ap.add_argument("--local-epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    ap.add_argument("--lr", type=float, default=None,
                    help="client lr (default 0.01 for sgd, 1e-3 for adam)")
    ap.add_argument("--server-lr", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if args.per_round > args.clients:
        ap.error("--per-round must not exceed --clients")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    x, y = make_data(args.samples, 0)
    tx, ty = make_data(args.test_samples, 2)
    clients = split_iid(x, y, args.clients, 3)
    init_vec = parameters_to_vector(Mlp().parameters()).detach().clone()

    federate(init_vec, clients, args)  # warm-up
    best = None
    for _ in range(args.reps):
        vec, t = federate(init_vec, clients, args)
        if best is None or t["total"] < best[1]["total"]:
            best = (vec, t)
    vec, t = best
    t0 = time.perf_counter()
    acc = evaluate(vec, tx, ty)
    t_eval = time.perf_counter() - t0

    per_client = args.samples // args.clients
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), {args.rounds} rounds, "
          f"{args.per_round} of {args.clients} clients x ~{per_client} samples per round, "
          f"{args.local_epochs} local epoch(s), batch {args.batch}, {args.optimizer}; "
          f"best of {args.reps} timed federation(s) after one warm-up.\n")
    other = t["total"] - t["train"] - t["update"] - t["aggregate"]
    print(f"total: {t['total']:.3f} s, per round: {t['total'] / args.rounds * 1e3:.2f} ms\n")
    print("| part | seconds | ms per round | share |")
    print("|---|---:|---:|---:|")
    for name, key in (("local training", "train"), ("update/flatten", "update"),
                      ("aggregation", "aggregate")):
        print(f"| {name} | {t[key]:.3f} | {t[key] / args.rounds * 1e3:.3f} | "
              f"{100 * t[key] / t['total']:.1f}% |")
    print(f"| other | {other:.3f} | {other / args.rounds * 1e3:.3f} | "
          f"{100 * other / t['total']:.1f}% |")
    print(f"| evaluation ({args.test_samples} samples, not in total) | {t_eval:.3f} | | |")
    print(f"\ntest accuracy: {acc:.4f} (random labels: ~0.10 expected)")


if __name__ == "__main__":
    main()
