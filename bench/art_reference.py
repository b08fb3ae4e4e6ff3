#!/usr/bin/env python3
"""IBM ART reference for scenarios/bench/art-protocol.toml: BadNets, activation
clustering and spectral signatures done with the Adversarial Robustness
Toolbox's own classes on the same IDX files, with a timing breakdown.

    python3 bench/art_reference.py --data data/mnist [--rate 0.10] [--seed 17]
        [--threads 1] [--embedding hidden] [--json art.json]

--data is a folder in MNIST layout: train-images-idx3-ubyte,
train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
raw or gzipped (`.gz`). Compare with

    poisonlab run scenarios/bench/art-protocol.toml --fresh

Protocol (what the scenario asks poisonlab to do):
  data      pixels / 255 as float32, samples shaped [1, 28, 28].
  attack    BadNets all-to-one, target class 0: round(rate x non-target training
            samples) of them (at least one, rounding half away from zero),
            drawn uniformly without replacement with numpy's Generator
            (PCG64, --seed), get a 3x3 checkerboard stamped 1 px from the
            bottom-right corner (1.0 where row + column is even, 0.0 elsewhere,
            both written over the pixel) and label 0, in place. The attack test
            set is every non-target test image with the trigger.
  model     MLP 784-128-64-10 with ReLU, Adam lr 1e-3, mean cross-entropy,
            batch 64, 5 epochs, wrapped in art's PyTorchClassifier and trained
            with its fit(). One thread unless --threads.
  defences  ActivationDefence(...).detect_poison(nb_clusters=2, nb_dims=10,
            reduce="PCA") (the settings of ART's MNIST poisoning example) and
            SpectralSignatureDefense(..., batch_size=128, eps_multiplier=1.5,
            expected_pp_poison=n_poison / n_train).detect_poison(), both on the
            poisoned model and training set; each reports TPR / FPR against
            the poison mask, then a fresh model trained 5 epochs on the samples
            it keeps gives CA (clean test accuracy) and ASR (share of the
            attack test set predicted as 0).

--embedding: ART's PyTorch wrapper lists every top-level module of an
nn.Sequential as a layer, the output layer included, and both defences read
layer `nb_layers - 1`, so with the stock wrapper they would cluster the 10
logits. ART's documentation (and its Keras wrapper, which leaves the output
layer out) mean the last hidden layer, which is also what poisonlab embeds.
`hidden` (default) hides the output layer from `layer_names` so that the
defences read the 64 ReLU activations; `logits` keeps ART's stock behaviour.

Timings are wall-clock (time.perf_counter) per phase; BLAS threads used by
numpy / scikit-learn in the defences are limited to --threads as well (through
threadpoolctl, which scikit-learn installs).

torch and ART are not dependencies of poisonlab or its CI: install them by hand,
for example in a virtual environment:

    pip install torch adversarial-robustness-toolbox==1.20.* packaging scikit-learn
"""
import argparse
import gzip
import json
import math
import os
import platform
import struct
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
from art.estimators.classification import PyTorchClassifier

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - scikit-learn depends on it
    threadpool_limits = None

TARGET = 0
N_CLASSES = 10
TRIGGER_SIZE = 3
TRIGGER_MARGIN = 1
TRIGGER_VALUE = 1.0


# --------------------------------------------------------------------------- data

def _open_idx(folder, name):
    """The bytes of `name` or `name.gz` in `folder` (gzip recognised by its magic)."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return path, raw
    sys.exit(f"error: neither {name} nor {name}.gz in {folder}")


def read_idx(folder, name):
    """An IDX file of unsigned bytes as a numpy array of its declared shape."""
    path, raw = _open_idx(folder, name)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        sys.exit(f"error: {path} is not an IDX file")
    dtype, ndim = raw[2], raw[3]
    if dtype != 0x08:
        sys.exit(f"error: {path}: element type 0x{dtype:02x}, expected unsigned bytes (0x08)")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    start = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 0
    if len(raw) - start < count:
        sys.exit(f"error: {path} is truncated: {len(raw) - start} bytes for shape {dims}")
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=start).reshape(dims)


def load_split(folder, prefix):
    images = read_idx(folder, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        sys.exit(f"error: {prefix} images {images.shape} and labels {labels.shape} do not match")
    if labels.max(initial=0) >= N_CLASSES:
        sys.exit(f"error: {prefix} labels go up to {labels.max()}, expected < {N_CLASSES}")
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return x, labels.astype(np.int64)


# --------------------------------------------------------------------------- attack

def trigger_patch():
    """The 3x3 checkerboard: 1.0 where row + column is even, else 0.0."""
    r, c = np.indices((TRIGGER_SIZE, TRIGGER_SIZE))
    return np.where((r + c) % 2 == 0, TRIGGER_VALUE, 0.0).astype(np.float32)


def stamp(x):
    """Write the trigger (every cell, on every channel) into images `x` in place."""
    h, w = x.shape[-2:]
    top, left = h - TRIGGER_MARGIN - TRIGGER_SIZE, w - TRIGGER_MARGIN - TRIGGER_SIZE
    x[..., top:top + TRIGGER_SIZE, left:left + TRIGGER_SIZE] = trigger_patch()
    return x


def poison_count(rate, eligible):
    """poisonlab's rule: round half away from zero, at least one, at most all."""
    n = int(math.floor(rate * eligible + 0.5))
    if rate > 0 and eligible > 0:
        n = max(n, 1)
    return min(n, eligible)


def badnets(x_train, y_train, x_test, y_test, rate, seed):
    rng = np.random.Generator(np.random.PCG64(seed))
    eligible = np.flatnonzero(y_train != TARGET)
    n = poison_count(rate, len(eligible))
    picks = np.sort(rng.choice(eligible, size=n, replace=False))
    x_p, y_p = x_train.copy(), y_train.copy()
    x_p[picks] = stamp(x_train[picks].copy())
    y_p[picks] = TARGET
    is_poison = np.zeros(len(y_train), dtype=bool)
    is_poison[picks] = True
    x_asr = stamp(x_test[y_test != TARGET].copy())
    return x_p, y_p, is_poison, x_asr


# --------------------------------------------------------------------------- model

class HiddenLayerPyTorchClassifier(PyTorchClassifier):
    """PyTorchClassifier whose `layer_names` leave out the output layer, as its
    documentation describes (and as ART's Keras wrapper does), so that the
    poisoning defences' `layer_names[-1]` is the last hidden layer."""

    @property
    def layer_names(self):
        names = super().layer_names
        return names[:-1] if names else names


def make_model():
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(28 * 28, 128)),
        ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(128, 64)),
        ("relu2", nn.ReLU()),
        ("logits", nn.Linear(64, N_CLASSES)),
    ]))


def new_classifier(embedding):
    model = make_model()
    cls = HiddenLayerPyTorchClassifier if embedding == "hidden" else PyTorchClassifier
    return cls(
        model=model,
        loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8),
        input_shape=(1, 28, 28),
        nb_classes=N_CLASSES,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


def one_hot(y):
    out = np.zeros((len(y), N_CLASSES), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def train(x, y, args):
    clf = new_classifier(args.embedding)
    clf.fit(x, one_hot(y), batch_size=args.batch_size, nb_epochs=args.epochs, verbose=False)
    return clf


def predict(clf, x):
    return np.argmax(clf.predict(x, batch_size=1024), axis=1)


def scores(clf, x_test, y_test, x_asr):
    return {
        "ca": float(np.mean(predict(clf, x_test) == y_test)),
        "asr": float(np.mean(predict(clf, x_asr) == TARGET)),
    }


def detection(is_clean, is_poison):
    flagged = ~np.asarray(is_clean, dtype=bool)
    n_poison = int(is_poison.sum())
    n_clean = int((~is_poison).sum())
    tp = int((flagged & is_poison).sum())
    fp = int((flagged & ~is_poison).sum())
    return {
        "flagged": int(flagged.sum()),
        "tp": tp,
        "fp": fp,
        "tpr": tp / n_poison if n_poison else None,
        "fpr": fp / n_clean if n_clean else None,
    }


# --------------------------------------------------------------------------- main

class Clock:
    def __init__(self):
        self.phases = OrderedDict()

    def time(self, name, f):
        t = time.perf_counter()
        out = f()
        self.phases[name] = time.perf_counter() - t
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with the four IDX files (raw or .gz)")
    ap.add_argument("--rate", type=float, default=0.10,
                    help="poisoned share of the non-target training samples (default 0.10)")
    ap.add_argument("--seed", type=int, default=17, help="seed of the poison draw, torch and numpy")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--embedding", choices=["hidden", "logits"], default="hidden",
                    help="layer the defences read (see the module docstring)")
    ap.add_argument("--json", metavar="FILE", help="also write timings and metrics here")
    args = ap.parse_args()
    if not 0.0 < args.rate <= 1.0:
        ap.error("--rate must be in (0, 1]")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if threadpool_limits is not None:
        threadpool_limits(limits=args.threads)  # kept for the rest of the process

    wall = time.perf_counter()
    clock = Clock()

    def load():
        return (*load_split(args.data, "train"), *load_split(args.data, "t10k"))

    x_train, y_train, x_test, y_test = clock.time("load", load)
    x_p, y_p, is_poison, x_asr = clock.time(
        "poison", lambda: badnets(x_train, y_train, x_test, y_test, args.rate, args.seed))
    n_train, n_poison = len(y_p), int(is_poison.sum())

    clean = clock.time("train clean", lambda: train(x_train, y_train, args))
    poisoned = clock.time("train poisoned", lambda: train(x_p, y_p, args))
    metrics = OrderedDict()
    metrics["clean"] = scores(clean, x_test, y_test, x_asr)
    metrics["poisoned"] = scores(poisoned, x_test, y_test, x_asr)

    y_p_hot = one_hot(y_p)

    def ac():
        defence = ActivationDefence(poisoned, x_p, y_p_hot)
        _, is_clean = defence.detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA")
        return np.asarray(is_clean, dtype=bool)

    def ss():
        defence = SpectralSignatureDefense(
            poisoned, x_p, y_p_hot, batch_size=128, eps_multiplier=1.5,
            expected_pp_poison=n_poison / n_train)
        _, is_clean = defence.detect_poison()
        return np.asarray(is_clean, dtype=bool)

    for key, label, detect in (("activation-clustering", "AC", ac),
                               ("spectral-signatures", "SS", ss)):
        keep = clock.time(label, detect)
        record = detection(keep, is_poison)
        retrained = clock.time(f"retrain {label}", lambda: train(x_p[keep], y_p[keep], args))
        record.update(scores(retrained, x_test, y_test, x_asr))
        metrics[key] = record

    clock.phases["total wall"] = time.perf_counter() - wall

    print(f"ART {__import__('art').__version__}, torch {torch.__version__}, "
          f"Python {platform.python_version()}, {args.threads} thread(s), "
          f"embedding = {args.embedding}")
    print(f"train {n_train}, test {len(y_test)}, poisoned {n_poison} "
          f"(rate {args.rate} of {int((y_train != TARGET).sum())} non-target), "
          f"attack test {len(x_asr)}, seed {args.seed}\n")
    print("| phase | seconds |")
    print("|---|---:|")
    for name, secs in clock.phases.items():
        print(f"| {name} | {secs:.2f} |")
    print()
    print("| model | TPR | FPR | flagged | CA | ASR |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in metrics.items():
        tpr = f"{m['tpr']:.3f}" if m.get("tpr") is not None else "–"
        fpr = f"{m['fpr']:.3f}" if m.get("fpr") is not None else "–"
        flagged = str(m["flagged"]) if "flagged" in m else "–"
        print(f"| {name} | {tpr} | {fpr} | {flagged} | {m['ca']:.4f} | {m['asr']:.4f} |")

    if args.json:
        report = {
            "tool": "art",
            "versions": {"art": __import__("art").__version__, "torch": torch.__version__,
                         "python": platform.python_version()},
            "settings": {"data": args.data, "rate": args.rate, "seed": args.seed,
                         "epochs": args.epochs, "batch_size": args.batch_size,
                         "threads": args.threads, "embedding": args.embedding},
            "counts": {"train": n_train, "test": int(len(y_test)), "poison": n_poison,
                       "attack_test": int(len(x_asr))},
            "seconds": clock.phases,
            "metrics": metrics,
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
