"""The Numba CPU backend: the step of reference.py, fast, with the same random draws.

What makes it fast:
- Forward weights are stored transposed (``WT[h]``, one contiguous row per presynaptic unit).
  Presynaptic activity is binary in spiking mode, so the forward pass adds up only the rows of
  units that spiked, and plasticity changes only those rows: a step reads W once for the
  forward pass and reads and writes it once for plasticity, in proportion to the spike rate.
  Rate mode runs the same loops (a row is skipped only when its presynaptic value is 0).
- Weight decay is lazy: the true weights are scale[h] * WT[h].T with scale[h] (float64)
  multiplied by (1 - gamma) each learning step; plasticity adds eta / scale[h] * D s^T to WT so
  that W <- (1 - gamma) W + eta D s^T exactly as in the reference. When scale drops below 1/2 it
  is folded into WT (once every ~0.7/gamma steps). Unlike eager decay in float32, a gamma far
  below float32 resolution (the paper's 1e-8) is not lost to rounding.
- Every array is allocated before the step loop; the loop runs inside one compiled function for a
  whole block of steps (SpikingNetwork.train runs blocks up to the next step a recorder needs).
- Every kernel is built twice from one source: serial (one stream on a busy machine: a kernel
  call is ~0.1-1 ms, too short to pay for waking threads) and parallel (prange: forward over one
  slab of postsynaptic units per thread, feedback and plasticity over presynaptic rows), chosen
  per call (backends.CpuBackend.threads_for). Only the feedback dot products may be reassociated.
All kernels are compiled with cache=True so a second run loads them from Numba's cache.
These are the "spike-rows" kernels. With many streams the step is bound by arithmetic instead of
memory, and the backend runs gemm.py's BLAS products over all streams (backends.CpuBackend.kernel_for).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from .. import rng
from . import unit

FEEDBACK_CODES = {"fa": 0, "bp": 1, "direct": 2, "none": 3}
PHI_CODES = {"tanh": 0, "linear": 1}
_FAST = {"reassoc", "contract"}

hash_uniform = njit(cache=True, inline="always")(rng.hash_uniform)


@njit(cache=True, inline="always")
def _sigmoid(v):
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-v))


_integrate_and_sample = unit.compile_for(njit(cache=True, inline="always"), sigmoid=_sigmoid,
                                         hash_uniform=hash_uniform)


@njit(cache=True, inline="always")
def _phi(u, kind):
    if kind == 0:
        return np.tanh(u)
    return u


@njit(cache=True, inline="always")
def _key(layer, stream, purpose):
    return np.uint64(layer) | (np.uint64(purpose) << np.uint64(8)) | (np.uint64(stream) << np.uint64(16))


@njit(cache=True)
def _draw_input(X, rows, s0, seed, t, purpose, rate):
    cap = np.float32(0.95)
    for k in range(s0.shape[0]):
        key = _key(0, k, purpose)
        x = X[rows[k]]
        for j in range(s0.shape[1]):
            p = min(x[j], cap)
            if rate:
                s0[k, j] = p
            else:
                u = hash_uniform(seed, t, key, np.uint64(j))
                s0[k, j] = np.float32(1.0) if u < p else np.float32(0.0)


def _forward(WT, scale, b, s_in, A, V, P, s_out, tau, seed, t, layer, purpose, rate, slabs):
    n_in, n_out = WT.shape
    S = s_in.shape[0]
    # one slab of postsynaptic units per thread: long rows vectorise best, and each spiking row is
    # read once per slab
    n_chunks = max(1, slabs)
    chunk = ((n_out + n_chunks - 1) // n_chunks + 15) // 16 * 16
    for c in prange(n_chunks):
        i0 = min(c * chunk, n_out)
        i1 = min(i0 + chunk, n_out)
        # loops run over slice views from 0 so that LLVM vectorises them
        for k in range(S):
            A[k, i0:i1] = 0
        for j in range(n_in):
            row = WT[j, i0:i1]
            for k in range(S):
                sj = s_in[k, j]
                if sj != 0:
                    acc = A[k, i0:i1]
                    for i in range(row.shape[0]):
                        acc[i] += sj * row[i]
        for k in range(S):
            key = _key(layer, k, purpose)
            for i in range(i0, i1):
                A[k, i] *= scale
                _integrate_and_sample(V, P, s_out, k, i, A[k, i], b[i], tau, seed, t, key, rate)


@njit(cache=True)
def _error(labels, g, P, U, Mod, tau, phi_kind):
    for k in range(P.shape[0]):
        lo = labels[k] * g
        for i in range(P.shape[1]):
            y = np.float32(1.0) if lo <= i < lo + g else np.float32(0.0)
            U[k, i] += tau * (y - P[k, i] - U[k, i])
            Mod[k, i] = _phi(U[k, i], phi_kind)


def _feedback(Bm, factor, M_src, U, Mod, tau, phi_kind):
    n = Bm.shape[0]
    S = U.shape[0]
    for j in prange(n):
        row = Bm[j]
        k = 0
        while k + 4 <= S:  # four streams per pass over the row: one load of B feeds four sums
            m0, m1, m2, m3 = M_src[k], M_src[k + 1], M_src[k + 2], M_src[k + 3]
            a0 = a1 = a2 = a3 = np.float32(0.0)
            for i in range(row.shape[0]):
                r = row[i]
                a0 += r * m0[i]
                a1 += r * m1[i]
                a2 += r * m2[i]
                a3 += r * m3[i]
            _feedback_update(U, Mod, k, j, factor * a0, tau, phi_kind)
            _feedback_update(U, Mod, k + 1, j, factor * a1, tau, phi_kind)
            _feedback_update(U, Mod, k + 2, j, factor * a2, tau, phi_kind)
            _feedback_update(U, Mod, k + 3, j, factor * a3, tau, phi_kind)
            k += 4
        while k < S:
            m = M_src[k]
            acc = np.float32(0.0)
            for i in range(row.shape[0]):
                acc += row[i] * m[i]
            _feedback_update(U, Mod, k, j, factor * acc, tau, phi_kind)
            k += 1


@njit(cache=True, inline="always")
def _feedback_update(U, Mod, k, j, drive, tau, phi_kind):
    U[k, j] += tau * (drive - U[k, j])
    Mod[k, j] = _phi(U[k, j], phi_kind)


def _plasticity(WT, maskT, use_mask, s_in, D, coef):
    n_in = WT.shape[0]
    S = s_in.shape[0]
    for j in prange(n_in):
        row = WT[j]
        for k in range(S):
            sj = s_in[k, j]
            if sj != 0:
                c = coef * sj
                d = D[k]
                if use_mask:
                    keep = maskT[j]
                    for i in range(row.shape[0]):
                        row[i] += c * d[i] * keep[i]
                else:
                    for i in range(row.shape[0]):
                        row[i] += c * d[i]


@njit(cache=True)
def _count_votes(out, counts, g):
    """counts[k, c] += output spikes of class group c in stream k."""
    for k in range(out.shape[0]):
        for c in range(counts.shape[1]):
            total = np.float32(0.0)
            for i in range(c * g, (c + 1) * g):
                total += out[k, i]
            counts[k, c] += total


@njit(cache=True)
def _bias_and_factor(b, Mod, P, D, eta, gamma):
    S, n = P.shape
    for k in range(S):
        for i in range(n):
            p = P[k, i]
            D[k, i] = Mod[k, i] * p * (np.float32(1.0) - p)
    for i in range(n):
        total = np.float32(0.0)
        for k in range(S):
            total += D[k, i]
        b[i] += eta * total - gamma * b[i]


def _run_steps(X, order, labels, counts, seq0, n_steps, steps_per_image, t0, learn, purpose, readout, fresh,
              seed, rate, tau, eta, gamma, phi_kind, fb_kind, g,
              WT, scale, b, B, maskT, use_mask, learns, s, V, P, U, Mod, A, D, slabs):
    """Steps seq0 .. seq0+n_steps-1 of an image sequence; the arguments of reference.run_steps,
    with the network's arrays as tuples (see state.py), the options as numbers, and ``slabs``
    (the threads) the number of slabs the forward pass splits postsynaptic units into."""
    L = len(WT)
    seed64 = np.uint64(seed)
    for q in range(seq0, seq0 + n_steps):
        i_img = q // steps_per_image
        t = np.uint64(t0 + q - seq0)
        if fresh and q % steps_per_image == 0:
            for h in range(L):
                V[h][...] = 0
                U[h][...] = 0
        _draw_input(X, order[i_img], s[0], seed64, t, purpose, rate)
        for h in range(L):
            _forward(WT[h], np.float32(scale[h]), b[h], s[h], A[h], V[h], P[h], s[h + 1], tau,
                     seed64, t, h + 1, purpose, rate, slabs)
        if learn:
            _error(labels[i_img], g, P[L - 1], U[L - 1], Mod[L - 1], tau, phi_kind)
        if learn and fb_kind != 3:
            for h in range(L - 2, -1, -1):
                if fb_kind == 0:
                    _feedback(B[h], np.float32(1.0), Mod[h + 1], U[h], Mod[h], tau, phi_kind)
                elif fb_kind == 1:
                    _feedback(WT[h + 1], np.float32(scale[h + 1]), Mod[h + 1], U[h], Mod[h], tau, phi_kind)
                else:
                    _feedback(B[h], np.float32(1.0), Mod[L - 1], U[h], Mod[h], tau, phi_kind)
        if readout == 1:
            _count_votes(P[L - 1], counts[i_img], g)
        elif readout == 2:
            _count_votes(V[L - 1], counts[i_img], g)
        else:
            _count_votes(s[L], counts[i_img], g)
        if learn:
            for h in range(L):
                if not learns[h]:
                    continue
                _bias_and_factor(b[h], Mod[h], P[h], D[h], eta, gamma)
                scale[h] *= 1.0 - np.float64(gamma)
                _plasticity(WT[h], maskT[h], use_mask, s[h], D[h], np.float32(np.float64(eta) / scale[h]))
                if scale[h] < 0.5:
                    _fold(WT[h], np.float32(scale[h]))
                    scale[h] = 1.0


def _fold(WT, factor):
    for j in prange(WT.shape[0]):
        for i in range(WT.shape[1]):
            WT[j, i] *= factor


@njit(cache=True)
def first_nonfinite(arrays) -> int:
    """Index of the first array in the tuple holding NaN or inf, or -1."""
    for h in range(len(arrays)):
        a = arrays[h]
        for k in range(a.shape[0]):
            for i in range(a.shape[1]):
                if not np.isfinite(a[k, i]):
                    return h
    return -1


def _variant(fn, suffix: str, namespace: dict):
    """A copy of ``fn`` whose globals are ``namespace`` and whose name ends in ``suffix``.

    Numba names its cache files after a function's qualified name, so the serial and the
    parallel build of one kernel are cached apart.
    """
    g = types.FunctionType(fn.__code__, namespace, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    g.__qualname__ = fn.__qualname__ + suffix
    g.__module__ = fn.__module__
    return g


def _build(parallel: bool):
    suffix = "_parallel" if parallel else "_serial"
    namespace = dict(globals())
    for fn, fast in ((_forward, False), (_feedback, True), (_plasticity, False), (_fold, False)):
        namespace[fn.__name__] = njit(cache=True, parallel=parallel, fastmath=_FAST if fast else False)(
            _variant(fn, suffix, namespace))
    return njit(cache=True)(_variant(_run_steps, suffix, namespace))


# a step's kernels on one stream of the Figure 4 network take ~0.1-1 ms: too short to pay for
# waking a thread pool on a busy machine, so one stream runs the serial build by default
run_steps_serial = _build(parallel=False)
run_steps_parallel = _build(parallel=True)
