"""The Numba CUDA backend: the step of reference.py as CUDA kernels, with the same random draws.

Imported only when a network asks for backend="cuda" (so CPU-only installs never import
numba.cuda). Runs on an NVIDIA GPU, or on Numba's simulator under NUMBA_ENABLE_CUDASIM=1 (slow:
tiny networks only, as in the tests).

Layout and sync: the device holds WT (forward weights, transposed as on the host), b, the
feedback matrices transposed (B^T, so that the threads of a warp, one per hidden unit, read
consecutive addresses), the masks and the streams' state. The host arrays of the network are
uploaded when train/test starts (``to_device``) and the trained weights and state downloaded when
it returns (``to_host``); observers called during training get the device arrays.

One launch per kernel per layer per step; one thread per (stream, unit) except plasticity (one
thread per synapse whose presynaptic unit spiked in some stream) and feedback with tied weights
(bp: one thread per hidden unit reading a row of W^T). Lazy weight decay as on the CPU: the host
keeps the float64 scale of each layer and passes it to the kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from . import bundles, core
from ..errors import ConfigError
from .codes import FEEDBACK_BP, FEEDBACK_FA, FEEDBACK_NONE, READOUT_SPIKES, readout_array
from .params import SpikingParams
from .protocol import Backend, StepInfo
from .state import F32, StreamState, Weights

_TPB = 128
# core.py's per-step scalars as CUDA device functions, with the GPU's exp and tanh
K = core.compile_for(cuda.jit(device=True), exp=math.exp, tanh=math.tanh, name=__name__ + ".K")


@cuda.jit
def _input_kernel(X, rows, s0, seed, t, purpose, rate):
    idx = cuda.grid(1)
    n = s0.shape[1]
    if idx >= s0.shape[0] * n:
        return
    k, j = idx // n, idx % n
    s0[k, j] = K.sample(K.input_probability(X[rows[k], j]), rate, seed, t, K.stream_key(0, k, purpose), j)


@cuda.jit
def _forward_kernel(WT, scale, b, s_in, A, V, P, s_out, tau, seed, t, layer, purpose, rate):
    idx = cuda.grid(1)
    n_in, n_out = WT.shape
    if idx >= s_in.shape[0] * n_out:
        return
    k, i = idx // n_out, idx % n_out
    acc = np.float32(0.0)
    for j in range(n_in):
        sj = s_in[k, j]
        if sj != 0:
            acc += sj * WT[j, i]
    a = acc * scale
    A[k, i] = a
    K.integrate_and_sample(V, P, s_out, k, i, a, b[i], tau, seed, t, K.stream_key(layer, k, purpose), rate)


@cuda.jit
def _error_kernel(labels, g, P, U, Mod, tau, phi_kind):
    idx = cuda.grid(1)
    n = P.shape[1]
    if idx >= P.shape[0] * n:
        return
    k, i = idx // n, idx % n
    U[k, i] = K.leak(U[k, i], K.error_drive(i, labels[k], g, P[k, i]), tau)
    Mod[k, i] = K.phi(U[k, i], phi_kind)


@cuda.jit
def _feedback_cols_kernel(BT, M_src, U, Mod, tau, phi_kind):
    """U[k, j] from column j of BT (n_src, n): threads of a warp read consecutive j."""
    idx = cuda.grid(1)
    n_src, n = BT.shape
    if idx >= U.shape[0] * n:
        return
    k, j = idx // n, idx % n
    acc = np.float32(0.0)
    for i in range(n_src):
        acc += BT[i, j] * M_src[k, i]
    U[k, j] = K.leak(U[k, j], acc, tau)
    Mod[k, j] = K.phi(U[k, j], phi_kind)


@cuda.jit
def _feedback_rows_kernel(Bm, factor, M_src, U, Mod, tau, phi_kind):
    """U[k, j] from row j of Bm (n, n_src): the tied weights of bp (WT of the layer above)."""
    idx = cuda.grid(1)
    n, n_src = Bm.shape
    if idx >= U.shape[0] * n:
        return
    k, j = idx // n, idx % n
    acc = np.float32(0.0)
    for i in range(n_src):
        acc += Bm[j, i] * M_src[k, i]
    U[k, j] = K.leak(U[k, j], factor * acc, tau)
    Mod[k, j] = K.phi(U[k, j], phi_kind)


@cuda.jit
def _votes_kernel(out, counts, row, g):
    idx = cuda.grid(1)
    C = counts.shape[2]
    if idx >= out.shape[0] * C:
        return
    k, c = idx // C, idx % C
    counts[row, k, c] += K.class_vote(out, k, c, g)


@cuda.jit
def _zero_kernel(a):
    idx = cuda.grid(1)
    if idx < a.size:
        a[idx // a.shape[1], idx % a.shape[1]] = np.float32(0.0)


@cuda.jit
def _factor_bias_kernel(b, Mod, P, D, eta, gamma):
    i = cuda.grid(1)
    if i >= P.shape[1]:
        return
    K.factor_and_bias(b, Mod, P, D, i, eta, gamma)


@cuda.jit
def _plasticity_kernel(WT, maskT, use_mask, s_in, D, coef):
    i, j = cuda.grid(2)
    n_in, n_out = WT.shape
    if i >= n_out or j >= n_in:
        return
    w = np.float32(0.0)
    touched = False
    for k in range(s_in.shape[0]):
        sj = s_in[k, j]
        if sj != 0:
            if not touched:
                w = WT[j, i]
                touched = True
            if use_mask:
                w += (coef * sj) * D[k, i] * maskT[j, i]
            else:
                w += (coef * sj) * D[k, i]
    if touched:
        WT[j, i] = w


@cuda.jit
def _scale_kernel(WT, factor):
    i, j = cuda.grid(2)
    if j < WT.shape[0] and i < WT.shape[1]:
        WT[j, i] *= factor


@cuda.jit
def _nonfinite_kernel(a, flag):
    idx = cuda.grid(1)
    if idx < a.size:
        k, i = idx // a.shape[1], idx % a.shape[1]
        v = a[k, i]
        if not (v - v == 0):  # false for NaN and inf
            flag[0] = 1


def _blocks(n):
    return (max(1, -(-n // _TPB)),), (min(_TPB, max(1, n)),)


def _blocks2(n_out, n_in):
    tx, ty = min(32, n_out), min(8, n_in)
    return (-(-n_out // tx), -(-n_in // ty)), (tx, ty)


class CudaBackend(Backend):
    """protocol.Backend on an NVIDIA GPU; the state lives on the GPU during train/test."""

    name = "cuda"

    def __init__(self, params: SpikingParams, weights: Weights):
        if not cuda.is_available():
            raise ConfigError("backend 'cuda' asked for but no CUDA GPU is usable here; use backend = \"cpu\" "
                              "(or install numba-cuda and an NVIDIA driver)")
        self.params, self.weights = params, weights
        self.set_eta(params.eta)     # the learning rate now (a schedule may lower it)
        self._dev_states: dict = {}
        self._host_inputs: dict = {}
        self._dev_inputs: dict = {}
        self._dummy_mask = cuda.to_device(np.zeros((1, 1), dtype=np.bool_))
        self._flag = cuda.to_device(np.zeros(1, dtype=np.int32))
        self.d_WT = self.d_b = self.d_BT = self.d_maskT = None

    def set_eta(self, eta: float) -> None:
        self.eta = float(eta)
        self.options = bundles.options(self.params, self.eta)

    def weights_changed(self) -> None:
        """Nothing to renew: every train or test call uploads the host weights (to_device)."""

    # -- host <-> device -----------------------------------------------------------------------
    def _upload_weights(self):
        w = self.weights
        self.d_WT = [cuda.to_device(a) for a in w.WT]
        self.d_b = [cuda.to_device(a) for a in w.b]
        self.d_BT = [None if B is None else cuda.to_device(np.ascontiguousarray(B.T)) for B in w.B]
        self.d_maskT = [self._dummy_mask if m is None else cuda.to_device(m) for m in w.maskT]

    def to_device(self, state: StreamState):
        self._upload_weights()
        key = id(state)
        if key not in self._dev_states or self._dev_states[key][0] is not state:
            groups = [[cuda.device_array_like(a) for a in group] for group in state.groups()]
            self._dev_states[key] = (state, StreamState(*groups))
        dev = self._dev_states[key][1]
        for host_group, dev_group in zip(state.groups(), dev.groups()):
            for h_arr, d_arr in zip(host_group, dev_group):
                d_arr.copy_to_device(h_arr)
        return dev

    def to_host(self, state: StreamState, dev) -> None:
        for host_group, dev_group in zip(state.groups(), dev.groups()):
            for h_arr, d_arr in zip(host_group, dev_group):
                d_arr.copy_to_host(h_arr)
        for h, d in enumerate(self.d_WT):
            d.copy_to_host(self.weights.WT[h])
            self.d_b[h].copy_to_host(self.weights.b[h])

    def _device_input(self, name, host):
        """Device copy of an input array, uploaded again only when a different array comes."""
        if self._host_inputs.get(name) is not host:
            self._host_inputs[name] = host
            self._dev_inputs[name] = cuda.to_device(host)
        return self._dev_inputs[name]

    # -- stepping ------------------------------------------------------------------------------
    def run(self, st, X, order, labels, counts, seq0, n_steps, steps_per_image, t0, learn, purpose,
            readout=READOUT_SPIKES, fresh=False, settle=True, samples=None):
        """A block of steps; every change is made within its step here, so ``settle`` has nothing to do;
        recorders gather on the device after each step they sample (``samples``: never given)."""
        if samples is not None:
            raise ValueError("the cuda backend takes no samples inside its blocks (takes_samples)")
        w, o = self.weights, self.options
        blk = bundles.block(seq0, n_steps, steps_per_image, t0, learn, purpose, readout, fresh)
        L, S, N = len(w.WT), st.s[0].shape[0], blk.steps_per_image
        dX = self._device_input("X", X)
        d_order = self._device_input("order", order)
        d_labels = self._device_input("labels", labels)
        first, last = blk.seq0 // N, (blk.seq0 + blk.n_steps - 1) // N + 1
        d_counts = cuda.to_device(np.ascontiguousarray(counts[first:last]))
        for q in range(blk.seq0, blk.seq0 + blk.n_steps):
            i_img = q // N
            t = np.uint64(blk.t0 + q - blk.seq0)
            if blk.fresh and q % N == 0:
                for h in range(L):
                    grid, block = _blocks(st.V[h].size)
                    _zero_kernel[grid, block](st.V[h])
                    _zero_kernel[grid, block](st.U[h])
            grid, block = _blocks(S * st.s[0].shape[1])
            _input_kernel[grid, block](dX, d_order[i_img], st.s[0], o.seed, t, blk.purpose, o.rate)
            for h in range(L):
                n_out = w.WT[h].shape[1]
                grid, block = _blocks(S * n_out)
                _forward_kernel[grid, block](self.d_WT[h], F32(w.scale[h]), self.d_b[h], st.s[h], st.A[h],
                                             st.V[h], st.P[h], st.s[h + 1], o.tau, o.seed, t, h + 1, blk.purpose,
                                             o.rate)
            grid, block = _blocks(S * counts.shape[2])
            votes = readout_array(blk.readout, st.s[L], st.P[L - 1], st.V[L - 1])
            _votes_kernel[grid, block](votes, d_counts, i_img - first, o.g)
            if not blk.learn:  # the feedback path only drives plasticity
                continue
            grid, block = _blocks(S * st.P[L - 1].shape[1])
            _error_kernel[grid, block](d_labels[i_img], o.g, st.P[L - 1], st.U[L - 1], st.Mod[L - 1], o.tau, o.phi)
            if o.feedback != FEEDBACK_NONE:
                for h in range(L - 2, -1, -1):
                    grid, block = _blocks(S * st.U[h].shape[1])
                    if o.feedback == FEEDBACK_BP:
                        _feedback_rows_kernel[grid, block](self.d_WT[h + 1], F32(w.scale[h + 1]), st.Mod[h + 1],
                                                           st.U[h], st.Mod[h], o.tau, o.phi)
                    else:
                        src = h + 1 if o.feedback == FEEDBACK_FA else L - 1
                        _feedback_cols_kernel[grid, block](self.d_BT[h], st.Mod[src], st.U[h], st.Mod[h], o.tau,
                                                           o.phi)
            for h in range(L):
                if not w.learns[h]:
                    continue
                n_in, n_out = w.WT[h].shape
                grid, block = _blocks(n_out)
                _factor_bias_kernel[grid, block](self.d_b[h], st.Mod[h], st.P[h], st.D[h], o.eta, o.gamma)
                w.scale[h] = core.decayed_scale(w.scale[h], o.gamma)
                grid, block = _blocks2(n_out, n_in)
                _plasticity_kernel[grid, block](self.d_WT[h], self.d_maskT[h], w.maskT[h] is not None, st.s[h],
                                                st.D[h], core.plasticity_coef(o.eta, w.scale[h]))
                if core.must_fold(w.scale[h]):
                    _scale_kernel[grid, block](self.d_WT[h], F32(w.scale[h]))
                    w.scale[h] = 1.0
        d_counts.copy_to_host(counts[first:last])

    def describe(self, streams: int) -> StepInfo:
        """One launch per kernel per layer per step, compiled at the first launch."""
        return StepInfo(kernel="cuda", threads=None, products=(), first_call="jit")

    def _any_nonfinite(self, arrays) -> int:
        for h, a in enumerate(arrays):
            self._flag.copy_to_device(np.zeros(1, dtype=np.int32))
            grid, block = _blocks(a.size)
            _nonfinite_kernel[grid, block](a, self._flag)
            if self._flag.copy_to_host()[0]:
                return h
        return -1

    def settle_plasticity(self, st) -> None:
        """Nothing is ever held over here."""

    def takes_samples(self, streams: int) -> bool:
        return False

    def nonfinite(self, st):
        for var, group in (("V", st.V), ("U", st.U)):
            h = self._any_nonfinite(group)
            if h >= 0:
                return var, h + 1
        return None

    def weights_nonfinite(self):
        # between train/test calls the host arrays are current
        for h, WT in enumerate(self.weights.WT):
            if not (np.isfinite(WT).all() and np.isfinite(self.weights.b[h]).all()):
                return h + 1
        return None
