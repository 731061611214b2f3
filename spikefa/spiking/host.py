"""The per-step core compiled for the host, and the array kernels both CPU kernels share.

``K`` is :mod:`core` compiled with numba njit (``inline="always"``: its functions are inlined into
the loops that call them, at no call cost), with numpy's ``exp`` and ``tanh``. The kernels below
are the steps that spike-rows (cpu.py) and gemm (gemm.py) run alike: the input draw, the votes,
the bias and plasticity factor, and the NaN scan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import core


def host_jit(**options):
    """numba.njit as every host kernel is compiled: cached, and with numpy's error model.

    Numba's default ("python") error model checks every float division for a zero divisor so it
    can raise ZeroDivisionError; that branch stops LLVM from vectorising a loop that divides. The
    step's one division, sigma = 1 / (1 + exp(-v)), never has a zero divisor, so numpy's model (no
    check) computes the same bits: the S = 32 sampling loop runs ~6x faster with it."""
    return njit(cache=True, error_model="numpy", **options)


K = core.compile_for(host_jit(inline="always"), exp=np.exp, tanh=np.tanh, name=__name__ + ".K")


@host_jit()
def draw_input(X, rows, s0, seed, t, purpose, rate):
    """s0[k] <- the input spikes of image X[rows[k]] in each stream k (probabilities in rate mode)."""
    for k in range(s0.shape[0]):
        key = K.stream_key(0, k, purpose)
        x = X[rows[k]]
        for j in range(s0.shape[1]):
            s0[k, j] = K.sample(K.input_probability(x[j]), rate, seed, t, key, j)


@host_jit()
def count_votes(out, counts, g):
    """counts[k, c] += the class-c vote of stream k (out: output spikes, sigma(V_L) or V_L)."""
    for k in range(out.shape[0]):
        for c in range(counts.shape[1]):
            counts[k, c] += K.class_vote(out, k, c, g)


@host_jit()
def bias_and_factor(b, Mod, P, D, eta, gamma):
    """D <- phi_d(U) sigma'(V) per stream, and the bias step with D summed over streams."""
    for i in range(P.shape[1]):
        K.factor_and_bias(b, Mod, P, D, i, eta, gamma)


@host_jit()
def first_nonfinite(arrays) -> int:
    """Index of the first array in the tuple holding NaN or inf, or -1. Rows are scanned whole
    (x - x is nonzero only for NaN and inf), without a branch per element, so the scan vectorises."""
    for h in range(len(arrays)):
        a = arrays[h]
        for k in range(a.shape[0]):
            row = a[k]
            bad = False
            for i in range(row.shape[0]):
                bad |= (row[i] - row[i]) != 0
            if bad:
                return h
    return -1
