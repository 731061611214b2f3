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

W is stored row-major here (WT Fortran-ordered, see backends.CpuBackend): BLAS runs the forward
product about twice as fast without a transposed operand.

Everything between the products (sampling, integration, error and feedback neurons, the bias and
plasticity factor, votes) is core.py's arithmetic (host.py's build) in small serial Numba kernels,
except exp and tanh: numpy's vectorised ufuncs are ~20x faster than Numba's scalar calls on these
(S, n) arrays. The products read the spikes and phi(U) streams-last, so a transposed copy of each
is kept beside the state (sampling writes both). These kernels stay serial on purpose: a parallel
build of them, measured on 2 cores, made the S = 32 step 12x slower, since Numba's threads wake
between BLAS calls whose OpenBLAS threads are still spinning on the same cores. Random draws are
the same counter-based ones: spikes equal those of the numpy reference and of cpu.py's kernels as
long as the float32 sums agree (they are summed in another order).
Lazy decay (scale), the sparse mask and the step order are those of cpu.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import blas

from . import core
from .codes import FEEDBACK_BP, FEEDBACK_CODES, FEEDBACK_FA, FEEDBACK_NONE, PHI_TANH, readout_array
from .host import K, bias_and_factor, count_votes, draw_input
from .protocol import Product

F32 = np.float32


@njit(cache=True)
def _integrate_t(AT, scale, b, V, negV, tau):
    """V <- V + tau (scale A + b - V), and -V (for the exponential); A arrives streams-last (n_out, S)."""
    for k in range(V.shape[0]):
        for i in range(V.shape[1]):
            v = K.leak(V[k, i], AT[i, k] * scale + b[i], tau)
            V[k, i] = v
            negV[k, i] = -v


@njit(cache=True)
def _sample_t(P, s_out, sT, seed, t, layer, purpose, rate):
    """P holds exp(-V) on entry and sigma(V) on exit; spikes into s_out and its streams-last copy sT."""
    for k in range(P.shape[0]):
        key = K.stream_key(layer, k, purpose)
        p_row, s_row = P[k], s_out[k]
        if rate:
            for i in range(p_row.shape[0]):
                p = K.sigmoid_of_exp(p_row[i])
                p_row[i] = p
                s_row[i] = p
        else:  # a loop of its own, without branches, so that it vectorises
            for i in range(p_row.shape[0]):
                p = K.sigmoid_of_exp(p_row[i])
                p_row[i] = p
                s_row[i] = K.spike(K.uniform(seed, t, key, i), p)
        for i in range(p_row.shape[0]):
            sT[i, k] = s_row[i]


@njit(cache=True)
def _feedback_t(FT, factor, U, tau):
    for k in range(U.shape[0]):
        for j in range(U.shape[1]):
            U[k, j] = K.leak(U[k, j], factor * FT[j, k], tau)


@njit(cache=True)
def _error_t(labels, g, P, U, tau):
    for k in range(P.shape[0]):
        for i in range(P.shape[1]):
            U[k, i] = K.leak(U[k, i], K.error_drive(i, labels[k], g, P[k, i]), tau)


def compiled_kernels() -> tuple:
    """This module's Numba kernels (whether they came from Numba's cache: CpuBackend.describe)."""
    return _integrate_t, _sample_t, _feedback_t, _error_t


def _modulation(U, Mod, ModT, phi_kind):
    """Mod = phi_d(U) (tanh by numpy's vectorised ufunc), and its streams-last copy."""
    if phi_kind == PHI_TANH:
        np.tanh(U, out=Mod)
    else:
        Mod[...] = U
    np.copyto(ModT, Mod.T)


class Scratch:
    """Streams-last copies for the products, allocated once per number of streams."""

    def __init__(self, sizes, streams: int):
        def zeros(n):
            return np.zeros((n, streams), dtype=F32)

        self.sT = [zeros(n) for n in sizes]            # spikes, (n_l, S)
        self.AT = [zeros(n) for n in sizes[1:]]        # W s, then B phi(U): (n_out, S)
        self.ModT = [zeros(n) for n in sizes[1:]]      # phi(U), (n_out, S)


def _gemm(alpha, a, b, c, beta=0.0, trans_b=0):
    """c <- alpha a b + beta c in place; every operand Fortran-ordered (a transposed C array)."""
    out = blas.sgemm(alpha, a, b, beta=beta, c=c, trans_b=trans_b, overwrite_c=1)
    if not np.may_share_memory(out, c):  # scipy copies an operand it cannot use in place
        raise RuntimeError("sgemm did not write in place: an operand has the wrong layout")


def _forward_product(WT, sT, AT):
    """A (S, n_out) = s (S, n_in) WT (n_in, n_out), written as AT (n_out, S): AT.T is A in Fortran order.

    BLAS is about twice as fast when WT is Fortran-ordered (no transposed operand): the cpu
    backend stores it so when this kernel trains (backends.CpuBackend)."""
    if WT.flags.f_contiguous:
        _gemm(1.0, sT.T, WT, AT.T)
    else:
        _gemm(1.0, sT.T, WT.T, AT.T, trans_b=1)


def _plasticity_product(coef, D, s, sT, WT):
    """WT (n_in, n_out) += coef s^T D, summed over streams, accumulated in place (beta = 1)."""
    if WT.flags.f_contiguous:
        _gemm(coef, s.T, D.T, WT, beta=1.0, trans_b=1)
    else:  # C-ordered WT is W (n_out, n_in) in Fortran order: W += coef D^T s
        _gemm(coef, D.T, sT.T, WT.T, beta=1.0)


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
        products.append(Product("plasticity", h, n_in, n_out, S, True, 1.0) if fortran
                        else Product("plasticity", h, n_out, n_in, S, False, 1.0))
    return tuple(products)


def product_operands(product: Product, rng: np.random.Generator) -> tuple:
    """Fortran-ordered float32 operands (a, b, c) of ``product``'s shapes: a and b uniform in
    [-0.05, 0.05), c zero."""
    m, n, k = product.m, product.n, product.k

    def rand(shape):
        return np.asfortranarray(rng.uniform(-0.05, 0.05, shape).astype(F32))

    return rand((m, k)), rand((n, k) if product.trans_b else (k, n)), np.zeros((m, n), dtype=F32, order="F")


def run_product(product: Product, a, b, c, alpha: float = 1.0) -> None:
    """c <- alpha a op(b) + beta c in place, the call the step makes for ``product``."""
    _gemm(alpha, a, b, c, beta=product.beta, trans_b=int(product.trans_b))


class GemmStep:
    """Runs blocks of steps for the cpu backend when streams are many (see the module docstring)."""

    def __init__(self, params, weights, B):
        self.params, self.weights, self.B = params, weights, B
        self.scratch = {}

    def _scratch(self, streams: int) -> Scratch:
        if streams not in self.scratch:
            self.scratch[streams] = Scratch(self.params.sizes, streams)
        return self.scratch[streams]

    def run(self, st, inputs, block, opts):
        """A block of steps (bundles.Inputs, bundles.Block, bundles.Options) on StreamState ``st``."""
        w, L = self.weights, len(self.weights.WT)
        X, order, labels, counts = inputs
        z = self._scratch(st.streams)
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
            np.copyto(z.sT[0], st.s[0].T)
            for h in range(L):
                _forward_product(w.WT[h], z.sT[h], z.AT[h])
                # sigma(V) = 1 / (1 + exp(-V)), the exponential by numpy's vectorised ufunc
                _integrate_t(z.AT[h], F32(w.scale[h]), w.b[h], st.V[h], st.P[h], tau)
                np.exp(st.P[h], out=st.P[h])
                _sample_t(st.P[h], st.s[h + 1], z.sT[h + 1], seed, t, h + 1, block.purpose, rate)
            if block.learn:
                self._feedback(st, z, L, opts, labels[i_img])
            count_votes(readout_array(block.readout, st.s[L], st.P[L - 1], st.V[L - 1]), counts[i_img], g)
            if block.learn:
                for h in range(L):
                    if not w.learns[h]:
                        continue
                    bias_and_factor(w.b[h], st.Mod[h], st.P[h], st.D[h], opts.eta, opts.gamma)
                    w.scale[h] = core.decayed_scale(w.scale[h], opts.gamma)
                    coef = core.plasticity_coef(opts.eta, w.scale[h])
                    _plasticity_product(coef, st.D[h], st.s[h], z.sT[h], w.WT[h])
                    if use_mask and w.maskT[h] is not None:
                        np.multiply(w.WT[h], w.maskT[h], out=w.WT[h])
                    if core.must_fold(w.scale[h]):
                        w.WT[h] *= F32(w.scale[h])
                        w.scale[h] = 1.0

    def _feedback(self, st, z, L, opts, labels):
        w, fb = self.weights, opts.feedback
        _error_t(labels, opts.g, st.P[L - 1], st.U[L - 1], opts.tau)
        _modulation(st.U[L - 1], st.Mod[L - 1], z.ModT[L - 1], opts.phi)
        if fb == FEEDBACK_NONE:  # hidden layers get no feedback
            return
        for h in range(L - 2, -1, -1):
            # F (S, n_h) = phi(U_src) (S, n_src) M (n_src, n_h); M = B_h^T, or W_{h+1} for bp
            if fb == FEEDBACK_BP:  # M = W_{h+1} = WT^T, transposed by BLAS when WT is Fortran-ordered
                WT = w.WT[h + 1]
                M, trans = (WT, 1) if WT.flags.f_contiguous else (WT.T, 0)
                factor, src = F32(w.scale[h + 1]), h + 1
            else:
                M, trans, factor, src = self.B[h].T, 0, F32(1.0), (h + 1 if fb == FEEDBACK_FA else L - 1)
            _gemm(1.0, z.ModT[src].T, M, z.AT[h].T, trans_b=trans)
            _feedback_t(z.AT[h], factor, st.U[h], opts.tau)
            _modulation(st.U[h], st.Mod[h], z.ModT[h], opts.phi)
