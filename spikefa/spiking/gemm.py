"""The cpu backend's step for many streams: the three weight products as BLAS matrix products.

With one stream a step is bound by memory: every weight it touches is used once, so cpu.py skips
the rows of presynaptic units that did not spike. With S streams the same weights serve S
images, and the step becomes arithmetic: S x (forward + feedback + plasticity) multiply-adds.
Here each of the three is one single-precision GEMM over all streams (scipy's BLAS, multi-threaded
and register-blocked), which reads each weight once per step instead of once per stream:
  forward     A_h = s_h W_h^T                          (S x n_in) (n_in x n_out)
  feedback    F_h = phi(U_src) B_h^T  (or W_{h+1})     (S x n_src) (n_src x n_h)
  plasticity  W_h <- W_h + eta/scale_h D_h^T s_h       rank-S update, accumulated in place (beta = 1)
Spikes are binary but, over 32 streams, almost every presynaptic unit spiked in some stream, so
skipping rows no longer pays; a dense product at BLAS speed does. ``step_products`` lists them
(``CpuBackend.describe``), and ``run_product`` runs one on given operands (``spikefa bench``
times them alone).

Layouts: W is stored row-major (WT Fortran-ordered, see backends.CpuBackend), and every state
array streams-last: the (S, n) arrays are Fortran-ordered, so that a unit's S values are adjacent
(``streams_last`` makes such a copy; CpuBackend.to_device hands it to the step). The forward
product then reads the spikes and writes A with no transposed operand, the layout BLAS runs
fastest on (about 1.3x the speed of W column-major or A streams-first), and nothing between the
products is transposed. The kernels below take these arrays as their (n, S) C-ordered transposes
and loop over units, then streams.

Everything between the products (sampling, integration, error and feedback neurons, the bias and
plasticity factor, votes) is core.py's arithmetic (host.py's build) in small serial Numba kernels,
except exp and tanh: numpy's vectorised ufuncs are ~20x faster than Numba's scalar calls on these
arrays. These kernels stay serial on purpose: a parallel build of them, measured on 2 cores, made
the S = 32 step 12x slower, since Numba's threads wake between BLAS calls whose OpenBLAS threads
are still spinning on the same cores. Random draws are the same counter-based ones: spikes equal
those of the numpy reference and of cpu.py's kernels as long as the float32 sums agree (they are
summed in another order). Lazy decay (scale), the sparse mask and the step order are those of cpu.py.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

from . import core
from .codes import FEEDBACK_BP, FEEDBACK_CODES, FEEDBACK_FA, FEEDBACK_NONE, PHI_TANH, readout_array
from .host import K, draw_input, host_jit
from .protocol import Product
from .state import StreamState

F32 = np.float32

# Each kernel takes streams-last state as (n, S) C-ordered arrays (``.T`` of the Fortran-ordered
# (S, n) state): row i holds unit i of every stream.


@host_jit()
def _integrate_t(AT, scale, b, VT, negVT, tau):
    """V <- V + tau (scale A + b - V), and -V (for the exponential)."""
    for i in range(VT.shape[0]):
        bias = b[i]
        for k in range(VT.shape[1]):
            v = K.leak(VT[i, k], AT[i, k] * scale + bias, tau)
            VT[i, k] = v
            negVT[i, k] = -v


@host_jit()
def _sample_t(PT, sT, seed, t, layer, purpose, rate):
    """PT holds exp(-V) on entry and sigma(V) on exit; the spikes (or sigma(V) in rate mode) into sT."""
    for i in range(PT.shape[0]):
        p_row, s_row = PT[i], sT[i]
        if rate:
            for k in range(p_row.shape[0]):
                p = K.sigmoid_of_exp(p_row[k])
                p_row[k] = p
                s_row[k] = p
        else:  # a loop of its own, without branches, so that it vectorises
            for k in range(p_row.shape[0]):
                p = K.sigmoid_of_exp(p_row[k])
                p_row[k] = p
                s_row[k] = K.spike(K.uniform(seed, t, K.stream_key(layer, k, purpose), i), p)


@host_jit()
def _feedback_t(FT, factor, UT, tau):
    for i in range(UT.shape[0]):
        for k in range(UT.shape[1]):
            UT[i, k] = K.leak(UT[i, k], factor * FT[i, k], tau)


@host_jit()
def _error_t(labels, g, PT, UT, tau):
    for i in range(PT.shape[0]):
        for k in range(PT.shape[1]):
            UT[i, k] = K.leak(UT[i, k], K.error_drive(i, labels[k], g, PT[i, k]), tau)


@host_jit()
def _factor_and_bias_t(b, ModT, PT, DT, eta, gamma):
    """core.factor_and_bias for every unit (D <- phi_d(U) sigma'(V), and the bias step with D summed
    over the streams in order), eight units at a time: a unit's sum over streams is a chain of
    dependent additions, so eight units' chains run side by side (1.75x faster at S = 32, 2.4x at
    S = 128; the same bits)."""
    n, S = PT.shape
    i0 = 0
    while i0 + 8 <= n:
        for i in range(i0, i0 + 8):
            for k in range(S):
                DT[i, k] = K.plasticity_factor(ModT[i, k], PT[i, k])
        d0, d1, d2, d3, d4, d5, d6, d7 = (DT[i0], DT[i0 + 1], DT[i0 + 2], DT[i0 + 3], DT[i0 + 4], DT[i0 + 5],
                                          DT[i0 + 6], DT[i0 + 7])
        t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = np.float32(0.0)
        for k in range(S):
            t0 += d0[k]
            t1 += d1[k]
            t2 += d2[k]
            t3 += d3[k]
            t4 += d4[k]
            t5 += d5[k]
            t6 += d6[k]
            t7 += d7[k]
        for u, total in enumerate((t0, t1, t2, t3, t4, t5, t6, t7)):
            b[i0 + u] = K.bias_step(b[i0 + u], total, eta, gamma)
        i0 += 8
    for i in range(i0, n):
        K.factor_and_bias(b, ModT.T, PT.T, DT.T, i, eta, gamma)


@host_jit()
def _count_votes_t(outT, counts, g):
    """host.count_votes on streams-last output (outT: (n, S)), eight streams at a time: each stream's
    class total is summed over its g units in order, as core.class_vote does (the same bits), but
    along memory (8 adjacent streams per unit) rather than across it (26 -> 7 µs at S = 32)."""
    S = outT.shape[1]
    for c in range(counts.shape[1]):
        k0 = 0
        while k0 + 8 <= S:
            t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = np.float32(0.0)
            for i in range(c * g, (c + 1) * g):
                row = outT[i]
                t0 += row[k0]
                t1 += row[k0 + 1]
                t2 += row[k0 + 2]
                t3 += row[k0 + 3]
                t4 += row[k0 + 4]
                t5 += row[k0 + 5]
                t6 += row[k0 + 6]
                t7 += row[k0 + 7]
            for u, total in enumerate((t0, t1, t2, t3, t4, t5, t6, t7)):
                counts[k0 + u, c] += total
            k0 += 8
        for k in range(k0, S):
            counts[k, c] += K.class_vote(outT.T, k, c, g)


def compiled_kernels() -> tuple:
    """This module's Numba kernels (whether they came from Numba's cache: CpuBackend.describe)."""
    return _integrate_t, _sample_t, _feedback_t, _error_t, _factor_and_bias_t, _count_votes_t


def _modulation(U, Mod, phi_kind):
    """Mod = phi_d(U) (tanh by numpy's vectorised ufunc)."""
    if phi_kind == PHI_TANH:
        np.tanh(U, out=Mod)
    else:
        Mod[...] = U


def is_streams_last(st: StreamState) -> bool:
    """Whether every (S, n) array of ``st`` is Fortran-ordered (the layout this kernel runs on)."""
    return all(a.flags.f_contiguous for group in st.groups() for a in group)


def streams_last(st: StreamState) -> StreamState:
    """A streams-last (Fortran-ordered) copy of ``st``'s arrays, the same values."""
    return StreamState(*([np.asfortranarray(a) for a in group] for group in st.groups()))


def _gemm(alpha, a, b, c, beta=0.0, trans_a=0, trans_b=0):
    """c <- alpha op(a) op(b) + beta c in place; every operand Fortran-ordered."""
    out = blas.sgemm(alpha, a, b, beta=beta, c=c, trans_a=trans_a, trans_b=trans_b, overwrite_c=1)
    if not np.may_share_memory(out, c):  # scipy copies an operand it cannot use in place
        raise RuntimeError("sgemm did not write in place: an operand has the wrong layout")


def _forward_product(WT, s, A):
    """A (S, n_out) = s (S, n_in) WT (n_in, n_out), all three Fortran-ordered when training (WT
    C-ordered: BLAS reads it transposed, about 1.3x slower)."""
    if WT.flags.f_contiguous:
        _gemm(1.0, s, WT, A)
    else:
        _gemm(1.0, s, WT.T, A, trans_b=1)


def _plasticity_product(coef, D, s, WT):
    """WT (n_in, n_out) += coef s^T D, summed over streams, accumulated in place (beta = 1)."""
    if WT.flags.f_contiguous:
        _gemm(coef, s, D, WT, beta=1.0, trans_a=1)
    else:  # C-ordered WT is W (n_out, n_in) in Fortran order: W += coef D^T s
        _gemm(coef, D, s, WT.T, beta=1.0, trans_a=1)


def step_products(sizes, streams: int, feedback: str = "fa", fortran: bool = True) -> tuple:
    """The BLAS products of one learning step of ``streams`` streams, in the order the step runs
    them, as protocol.Product (shapes as BLAS sees them: every operand Fortran-ordered).
    ``fortran``: WT is stored Fortran-ordered (as when the network trains with this kernel)."""
    L, S = len(sizes) - 1, int(streams)
    products = []
    for h in range(L):              # A (S, n_out) = s (S, n_in) W^T
        n_in, n_out = sizes[h], sizes[h + 1]
        products.append(Product("forward", h, S, n_out, n_in, not fortran, 0.0))
    if FEEDBACK_CODES[feedback] != FEEDBACK_NONE:
        for h in range(L - 2, -1, -1):     # F (S, n_h) = phi(U_src) (S, n_src) M (n_src, n_h)
            n_src = sizes[h + 2] if FEEDBACK_CODES[feedback] in (FEEDBACK_FA, FEEDBACK_BP) else sizes[L]
            trans = FEEDBACK_CODES[feedback] == FEEDBACK_BP and fortran
            products.append(Product("feedback", h, S, sizes[h + 1], n_src, trans, 0.0))
    for h in range(L):              # WT (n_in, n_out) += s^T D, or W (n_out, n_in) += D^T s
        n_in, n_out = sizes[h], sizes[h + 1]
        m, n = (n_in, n_out) if fortran else (n_out, n_in)
        products.append(Product("plasticity", h, m, n, S, False, 1.0, trans_a=True))
    return tuple(products)


def product_operands(product: Product, rng: np.random.Generator) -> tuple:
    """Fortran-ordered float32 operands (a, b, c) of ``product``'s shapes: a and b uniform in
    [-0.05, 0.05), c zero."""
    m, n, k = product.m, product.n, product.k

    def rand(shape):
        return np.asfortranarray(rng.uniform(-0.05, 0.05, shape).astype(F32))

    return (rand((k, m) if product.trans_a else (m, k)), rand((n, k) if product.trans_b else (k, n)),
            np.zeros((m, n), dtype=F32, order="F"))


def run_product(product: Product, a, b, c, alpha: float = 1.0) -> None:
    """c <- alpha op(a) op(b) + beta c in place, the call the step makes for ``product``."""
    _gemm(alpha, a, b, c, beta=product.beta, trans_a=int(product.trans_a), trans_b=int(product.trans_b))


class GemmStep:
    """Runs blocks of steps for the cpu backend when streams are many (see the module docstring)."""

    def __init__(self, params, weights, B):
        self.params, self.weights, self.B = params, weights, B
        self._mirrors = {}

    def streams_last_state(self, st: StreamState) -> StreamState:
        """``st`` itself when it is streams-last, else its streams-last copy (made once per state,
        refilled from it on every call)."""
        if is_streams_last(st):
            return st
        mirror = self._mirrors.get(id(st))
        if mirror is None or mirror[0] is not st:
            mirror = self._mirrors[id(st)] = (st, streams_last(st))
        mirror[1].copy_from(st)
        return mirror[1]

    def run(self, st, inputs, block, opts):
        """A block of steps (bundles.Inputs, bundles.Block, bundles.Options) on StreamState ``st``;
        a state that is not streams-last (CpuBackend.to_device makes it so for a whole train or
        test call) runs on its copy, written back at the end of the block."""
        live = self.streams_last_state(st)
        try:
            self._run(live, inputs, block, opts)
        finally:
            if live is not st:
                st.copy_from(live)

    def _run(self, st, inputs, block, opts):
        w, L = self.weights, len(self.weights.WT)
        X, order, labels, counts = inputs
        seed, rate, tau, g, N = opts.seed, opts.rate, opts.tau, opts.g, block.steps_per_image
        use_mask = any(m is not None for m in w.maskT)
        for q in range(block.seq0, block.seq0 + block.n_steps):
            i_img = q // N
            t = np.uint64(block.t0 + q - block.seq0)
            if block.fresh and q % N == 0:
                for h in range(L):
                    st.V[h].fill(0)
                    st.U[h].fill(0)
            draw_input(X, order[i_img], st.s[0], seed, t, block.purpose, rate)
            for h in range(L):
                _forward_product(w.WT[h], st.s[h], st.A[h])
                # sigma(V) = 1 / (1 + exp(-V)), the exponential by numpy's vectorised ufunc
                _integrate_t(st.A[h].T, F32(w.scale[h]), w.b[h], st.V[h].T, st.P[h].T, tau)
                np.exp(st.P[h], out=st.P[h])
                _sample_t(st.P[h].T, st.s[h + 1].T, seed, t, h + 1, block.purpose, rate)
            if block.learn:
                self._feedback(st, L, opts, labels[i_img])
            _count_votes_t(readout_array(block.readout, st.s[L], st.P[L - 1], st.V[L - 1]).T, counts[i_img], g)
            if block.learn:
                for h in range(L):
                    if not w.learns[h]:
                        continue
                    _factor_and_bias_t(w.b[h], st.Mod[h].T, st.P[h].T, st.D[h].T, opts.eta, opts.gamma)
                    w.scale[h] = core.decayed_scale(w.scale[h], opts.gamma)
                    coef = core.plasticity_coef(opts.eta, w.scale[h])
                    _plasticity_product(coef, st.D[h], st.s[h], w.WT[h])
                    if use_mask and w.maskT[h] is not None:
                        np.multiply(w.WT[h], w.maskT[h], out=w.WT[h])
                    if core.must_fold(w.scale[h]):
                        w.WT[h] *= F32(w.scale[h])
                        w.scale[h] = 1.0

    def _feedback(self, st, L, opts, labels):
        w, fb = self.weights, opts.feedback
        _error_t(labels, opts.g, st.P[L - 1].T, st.U[L - 1].T, opts.tau)
        _modulation(st.U[L - 1], st.Mod[L - 1], opts.phi)
        if fb == FEEDBACK_NONE:  # hidden layers get no feedback
            return
        for h in range(L - 2, -1, -1):
            # F (S, n_h) = phi(U_src) (S, n_src) M (n_src, n_h), into A_h (free once V_h is
            # integrated); M = B_h^T, or W_{h+1} for bp
            if fb == FEEDBACK_BP:  # M = W_{h+1} = WT^T, transposed by BLAS when WT is Fortran-ordered
                WT = w.WT[h + 1]
                M, trans = (WT, 1) if WT.flags.f_contiguous else (WT.T, 0)
                factor, src = F32(w.scale[h + 1]), h + 1
            else:
                M, trans, factor, src = self.B[h].T, 0, F32(1.0), (h + 1 if fb == FEEDBACK_FA else L - 1)
            _gemm(1.0, st.Mod[src], M, st.A[h], trans_b=trans)
            _feedback_t(st.A[h].T, factor, st.U[h].T, opts.tau)
            _modulation(st.U[h], st.Mod[h], opts.phi)
