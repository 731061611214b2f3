"""The arrays of a spiking network: weights (shared by all streams) and per-stream state.

Layers are indexed h = 0..L-1 in code for the paper's l = 1..L (layer h maps spikes s[h] to
s[h+1]; s[0] is the input). Forward weights are stored transposed, ``WT[h]`` of shape
(n_in, n_out), so that the column of W belonging to one presynaptic unit is one contiguous row:
the forward pass and plasticity touch only the rows of units that spiked. The true weights are
``scale[h] * WT[h].T``: weight decay multiplies the float64 ``scale`` instead of every weight
(see cpu.py); every backend does so, the numpy reference included, but only cpu and cuda fold
``scale`` back into ``WT`` when it falls below 1/2.
``WT[h]`` is C-ordered, except on the cpu backend when it trains with its gemm kernel (many
streams): there it is Fortran-ordered, W row-major, the layout BLAS runs fastest on (gemm.py).
Code that reads or sets the weights through ``net.W`` or ``WT[h][...]`` never sees the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bfloat16 import round_to_bfloat16
from .params import SpikingParams

F32 = np.float32


@dataclass
class Weights:
    WT: list            # [h] (n_in, n_out) float32, C-ordered (Fortran-ordered for the gemm kernel)
    scale: np.ndarray   # (L,) float64: true W[h] = scale[h] * WT[h].T
    b: list             # [h] (n_out,) float32
    B: list             # [h] hidden h: (n_h, n_{h+1}) for fa, (n_h, n_L) for direct; None otherwise
    maskT: list         # [h] (n_in, n_out) bool, False = synapse removed; None when not sparse
    learns: np.ndarray  # (L,) bool: does layer h change (hidden layers do not when feedback = "none")

    def fold_decay(self) -> None:
        """Multiply the pending decay into the stored weights (scale becomes 1)."""
        for h, WT in enumerate(self.WT):
            if self.scale[h] != 1.0:
                WT *= F32(self.scale[h])
                self.scale[h] = 1.0


@dataclass
class StreamState:
    """State of S parallel streams; every array has the streams on its first axis (C-ordered; the
    gemm kernel runs on a Fortran-ordered copy, which observers see during its train calls)."""

    s: list     # [0..L] (S, n_l) spikes (probabilities in rate mode); s[0] is the input
    V: list     # [h] (S, n_out) forward PSPs
    P: list     # [h] (S, n_out) sigma(V): spike probabilities
    U: list     # [h] (S, n_out) feedback neurons; U[L-1] are the error neurons
    Mod: list   # [h] (S, n_out) phi_d(U): the modulatory signal
    A: list     # [h] (S, n_out) scratch: W s for the forward pass
    D: list     # [h] (S, n_out) scratch: phi_d(U) * sigma'(V), the plasticity factor

    @property
    def streams(self) -> int:
        return self.s[0].shape[0]

    def reset(self) -> None:
        for group in (self.s, self.V, self.P, self.U, self.Mod, self.A, self.D):
            for a in group:
                a.fill(0)
        for P in self.P:
            P.fill(0.5)  # sigma(0)

    def copy_from(self, other: "StreamState") -> None:
        for mine, theirs in zip(self.groups(), other.groups()):
            for a, b in zip(mine, theirs):
                a[...] = b

    def groups(self):
        return (self.s, self.V, self.P, self.U, self.Mod, self.A, self.D)


def new_weights(p: SpikingParams) -> Weights:
    """Initial weights from ``p.seed``: W ~ U[-init_scale, init_scale], B ~ U[-feedback_scale, ...]."""
    rng = np.random.default_rng([p.seed, 0x5EED])
    sizes, L = p.sizes, p.n_layers
    WT, b, B, maskT = [], [], [], []
    for h in range(L):
        n_in, n_out = sizes[h], sizes[h + 1]
        W = rng.uniform(-p.init_scale, p.init_scale, size=(n_out, n_in)).astype(F32)
        mask = rng.random((n_out, n_in)) >= p.sparse if p.sparse > 0 else None
        if mask is not None:
            W *= mask
        WT.append(np.ascontiguousarray(W.T))
        maskT.append(None if mask is None else np.ascontiguousarray(mask.T))
        b.append(rng.uniform(-p.bias_scale, p.bias_scale, size=n_out).astype(F32))
    for h in range(L - 1):
        if p.feedback in ("fa", "direct"):
            n_src = sizes[h + 2] if p.feedback == "fa" else sizes[L]
            Bh = rng.uniform(-p.feedback_scale, p.feedback_scale, size=(sizes[h + 1], n_src)).astype(F32)
            if p.sparse > 0:
                Bh *= rng.random(Bh.shape) >= p.sparse
            if p.feedback_dtype == "bfloat16":
                Bh = round_to_bfloat16(Bh)
            B.append(np.ascontiguousarray(Bh))
        else:
            B.append(None)
    learns = np.array([p.feedback != "none" or h == L - 1 for h in range(L)], dtype=bool)
    return Weights(WT=WT, scale=np.ones(L), b=b, B=B, maskT=maskT, learns=learns)


def new_streams(sizes, streams: int) -> StreamState:
    def zeros(n):
        return np.zeros((streams, n), dtype=F32)

    outs = sizes[1:]
    st = StreamState(s=[zeros(n) for n in sizes], V=[zeros(n) for n in outs], P=[zeros(n) for n in outs],
                     U=[zeros(n) for n in outs], Mod=[zeros(n) for n in outs], A=[zeros(n) for n in outs],
                     D=[zeros(n) for n in outs])
    st.reset()
    return st
