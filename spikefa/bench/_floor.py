"""The floors a spiking step is measured against: bytes over copy bandwidth, and BLAS products alone.

A step of one stream must move, in float32:
  forward     the rows of WT of the presynaptic units that spiked (binary spikes)   k_{l-1} n_l
  feedback    every B_l (dense: phi_d(U) is not binary)                               n_l n_{l+1}
  plasticity  the same rows of WT as the forward pass, read and written            2 k_{l-1} n_l
  state       V, P, U, phi_d(U), D, b and spikes of every layer                          ~10 n_l
with k_{l-1} the mean number of presynaptic units that spiked (``SpikeCounter``). The cpu kernel
makes a step's plasticity as the next step's forward pass reads each row, so a row whose unit
spiked in both steps is read once for both: forward and plasticity together move
(3 k_{l-1} - c_{l-1}) n_l, with c_{l-1} the mean number of units that spiked in a step and in the
one before (``SpikeCounter.shared``). The floor is those bytes over the copy bandwidth measured on
as many threads as the step runs on (``copy_bandwidth``). A step of many streams on the cpu
backend's gemm kernel is bound by arithmetic: its floor is the time of its BLAS products alone
(``GemmProducts``: the products ``CpuBackend.describe`` lists, on operands of their shapes, timed
between the step's own timed calls for as many steps as a call runs).

That floor also caps what many streams can buy: S streams take S times one stream's work in at
least the products' time, so no step of S streams beats S x (one stream's ms) / (the products' ms)
over one stream (``streams_ceiling``). ``sgemm_peak_flops`` (a large square product) says how
close the products already run to this machine's arithmetic peak.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit, prange


def copy_bandwidth(megabytes: int = 256, repeat: int = 3, threads: int = 1) -> float:
    """Bytes per second of copying an array far larger than the caches (read + write): numpy's copy
    on one thread; on ``threads`` threads (each copying a slab, as a parallel kernel's threads
    each read their own rows) the faster of that and numpy's, so that a step spread over several
    cores is held to the bandwidth those cores can draw, never to a slower one."""
    src = np.ones(megabytes * (1 << 20) // 4, dtype=np.float32)
    dst = np.empty_like(src)

    def copy():
        np.copyto(dst, src)

    best = _best_seconds(copy, repeat)
    if threads > 1:
        before = numba.get_num_threads()
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            best = min(best, _best_seconds(lambda: _copy_in_slabs(dst, src, threads), repeat))
        finally:
            numba.set_num_threads(before)
    return 2 * src.nbytes / best


def _best_seconds(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@njit(parallel=True, cache=True)
def _copy_in_slabs(dst, src, slabs):
    size = (src.size + slabs - 1) // slabs
    for p in prange(slabs):
        for i in range(p * size, min(src.size, (p + 1) * size)):
            dst[i] = src[i]


class SpikeCounter:
    """Observer: mean number of units that spiked per layer per step (stream 0)."""

    reads_weights = False

    def __init__(self, layers: int):
        self.totals = np.zeros(layers + 1)
        self.both = np.zeros(layers + 1)
        self.steps = 0
        self.last = None

    def on_step(self, net):
        now = [np.asarray(net.layer_state("spikes", layer)) != 0 for layer in range(len(self.totals))]
        for layer, s in enumerate(now):
            self.totals[layer] += float(np.count_nonzero(s))
            if self.last is not None:
                self.both[layer] += float(np.count_nonzero(s & self.last[layer]))
        self.last = now
        self.steps += 1

    @property
    def mean(self) -> np.ndarray:
        return self.totals / max(1, self.steps)

    @property
    def shared(self) -> np.ndarray:
        """Mean units per layer that spiked in a step and in the step before."""
        return self.both / max(1, self.steps - 1)


def step_floor_bytes(sizes, active, feedback: str = "fa", feedback_bytes: int = 4, shared=None) -> float:
    """Bytes one learning step of one stream must move (see the module docstring); B's elements
    take ``feedback_bytes`` each (2 when stored as bfloat16: the bytes actually stored); ``shared``
    (per layer, default none) the units that spiked in a step and the one before, whose row one
    read serves both the forward pass and the previous step's plasticity."""
    L = len(sizes) - 1
    total = 0.0
    for h in range(L):
        rows = active[h] * sizes[h + 1] * 4
        both = 0.0 if shared is None else shared[h] * sizes[h + 1] * 4
        total += rows + 2 * rows - both              # forward read, plasticity read + write
        total += 10 * sizes[h + 1] * 4               # state vectors
    for h in range(L - 1):                           # feedback matrices, dense
        n_src = sizes[h + 2] if feedback in ("fa", "bp") else sizes[L]
        total += sizes[h + 1] * n_src * (feedback_bytes if feedback != "bp" else 4)
    return total


class GemmProducts:
    """The BLAS products of one learning step of the gemm kernel, alone: ``products`` (a backend's
    ``describe(streams).products``), by default those of a network of ``sizes`` with feedback fa and
    its weights stored for gemm, each on operands of its shapes and layouts. ``time(steps)`` times
    ``steps`` steps' worth of them at once and keeps the best seconds per step: timed between the
    calls of the step it is compared with, for as long as one call, so that a machine whose speed
    drifts slows both alike."""

    def __init__(self, sizes, streams: int, products=None):
        from ..spiking import gemm

        if products is None:
            products = gemm.step_products(sizes, streams, "fa", fortran=True)
        rng = np.random.default_rng(0)
        self._gemm, self.products = gemm, tuple(products)
        self._operands = [gemm.product_operands(p, rng) for p in self.products]
        self.best = float("inf")
        self._run_all()                  # warm: first-touch of the operands, BLAS's threads

    def _run_all(self):
        for p, (a, b, c) in zip(self.products, self._operands):
            self._gemm.run_product(p, a, b, c, alpha=1e-3)

    def time(self, steps: int = 1) -> float:
        t0 = time.perf_counter()
        for _ in range(max(1, steps)):
            self._run_all()
        self.best = min(self.best, (time.perf_counter() - t0) / max(1, steps))
        return self.best


def gemm_floor_seconds(sizes, streams: int, repeat: int = 5, products=None) -> float:
    """Seconds of the BLAS products of one learning step of the gemm kernel alone, the best of
    ``repeat`` (GemmProducts)."""
    timer = GemmProducts(sizes, streams, products)
    for _ in range(repeat):
        timer.time()
    return timer.best


def product_flops(products) -> float:
    """Floating-point operations of ``products`` (2 m n k each: a multiply and an add)."""
    return float(sum(2.0 * p.m * p.n * p.k for p in products))


def sgemm_peak_flops(n: int = 2048, repeat: int = 3) -> float:
    """FLOP/s of a large square single-precision product (scipy's BLAS, all its threads): the
    arithmetic peak a step of many streams can approach on this machine."""
    from scipy.linalg import blas

    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.random((n, n), dtype=np.float32))
    b = np.asfortranarray(rng.random((n, n), dtype=np.float32))
    c = np.zeros((n, n), dtype=np.float32, order="F")
    blas.sgemm(1.0, a, b, c=c, overwrite_c=1)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        blas.sgemm(1.0, a, b, c=c, overwrite_c=1)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best


def streams_ceiling(streams: int, one_stream_ms: float, products_ms: float) -> float:
    """The most image-steps/s S streams can gain over one stream here: the S-stream step takes at
    least its BLAS products' time (module docstring)."""
    return streams * one_stream_ms / products_ms
