"""spikefa bench rate: per-example training of the 784-1000-10 logistic network (Figure 3a size).

For each rule, examples per second of the Numba kernel and of the numpy specification
(spikefa.rate.rules: plain numpy, one example per update), measured in the same run on the same
random data, their ratio, and the seconds one 60,000-image epoch would take with each.

The data are random images with MNIST's share of nonzero pixels (19%), since the kernel skips
zero inputs; a last line repeats FA on dense random inputs, where nothing can be skipped.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..progress import format_table
from ..rate.network import RateNet
from ..rate.train import Scratch, train

MNIST_NONZERO = 0.19
EPOCH = 60000
# (label, rule, fraction of W and B removed)
CASES = (("bp", "bp", 0.0), ("fa", "fa", 0.0), ("shallow", "shallow", 0.0), ("fa_sparse", "fa", 0.5))


def random_data(n: int, nonzero: float, rng: np.random.Generator):
    X = rng.random((n, 784), dtype=np.float32)
    if nonzero < 1.0:
        X *= rng.random((n, 784)) < nonzero
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return X, Y


def _best_rate(fn, n_examples: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_examples / best


def measure(rule: str, sparsity: float, X, Y, n_numba: int, n_numpy: int, repeat: int) -> dict:
    """Examples/s of both implementations for one rule, on fresh copies of the same network."""
    net = RateNet.init([784, 1000, 10], np.random.default_rng(0), hidden="logistic", output="logistic",
                       init_scale=0.2, feedback_scale=0.5, sparsity=sparsity)
    fast = net.copy()
    scratch = Scratch.for_net(fast)
    train(fast, X[:2], Y[:2], rule, 1e-3, decay=1e-6, scratch=scratch)        # compile outside the clock
    numba_rate = _best_rate(lambda: train(fast, X[:n_numba], Y[:n_numba], rule, 1e-3, decay=1e-6,
                                          scratch=scratch), n_numba, repeat)
    slow = net.copy()
    numpy_rate = _best_rate(lambda: train(slow, X[:n_numpy], Y[:n_numpy], rule, 1e-3, decay=1e-6,
                                          backend="numpy"), n_numpy, repeat)
    return {"numba_ex_per_s": numba_rate, "numpy_ex_per_s": numpy_rate, "ratio": numba_rate / numpy_rate,
            "numba_s_per_epoch": EPOCH / numba_rate, "numpy_s_per_epoch": EPOCH / numpy_rate}


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None) or (1 if quick else 3)
    n_numba, n_numpy = (200, 20) if quick else (3000, 100)
    rng = np.random.default_rng(1)
    X, Y = random_data(n_numba, MNIST_NONZERO, rng)
    rows = []
    for label, rule, sparsity in CASES:
        rows.append({"rule": label, "input": f"{int(MNIST_NONZERO * 100)}% nonzero",
                     **measure(rule, sparsity, X, Y, n_numba, n_numpy, repeat)})
    Xd, Yd = random_data(n_numba, 1.0, rng)
    rows.append({"rule": "fa", "input": "dense", **measure("fa", 0.0, Xd, Yd, n_numba, n_numpy, repeat)})
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(format_table(rows, f"rate 784-1000-10 logistic, per-example updates, eta 1e-3, decay 1e-6 "
                             f"(numba: {n_numba} examples, numpy: {n_numpy}, best of {repeat}; "
                             f"BLAS threads: {threads})"))
    print("ratio = numba / numpy examples per second, same run; s/epoch = 60,000 examples")
    return 0
