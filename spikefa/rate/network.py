"""Layered rate networks: weights, biases, fixed feedback matrices, sparse masks, frozen layers.

Layers are numbered as in MODEL.md from the first weight matrix: ``W[l]`` maps the activity of
layer l (the input for l = 0) to layer l+1 and has shape (n_{l+1}, n_l). Every layer but the
last is hidden. ``B[l]`` is the fixed feedback matrix that delivers the teaching signal to hidden
layer l: shape (n_{l+1}, n_{l+2}) for layer-wise feedback (FA), (n_{l+1}, n_L) for direct feedback.

Forward weights are kept in Fortran order, so ``W[l].T`` is C-contiguous: the Numba kernels work
on that transposed view in place (axpy over an input unit's outgoing weights), which lets them skip
the zero pixels of an MNIST image in both the forward pass and the update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

ACTIVATIONS = ("linear", "tanh", "logistic")
ACTIVATION_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}


def activate(kind: str, a: np.ndarray) -> np.ndarray:
    if kind == "tanh":
        return np.tanh(a)
    if kind == "logistic":
        return 1.0 / (1.0 + np.exp(-a))
    return a


def derivative(kind: str, h: np.ndarray) -> np.ndarray:
    """f'(a) written in terms of the unit's output h = f(a) (all a cell needs locally)."""
    if kind == "tanh":
        return 1.0 - h * h
    if kind == "logistic":
        return h * (1.0 - h)
    return np.ones_like(h)


def _per_layer(values, count: int, what: str) -> list[float]:
    values = [float(v) for v in np.atleast_1d(values)]
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ConfigError(f"{what}: give one value or one per layer ({count}), not {len(values)}")
    return values


@dataclass
class RateNet:
    """A layered network and everything its learning rules need besides data."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    B: list[np.ndarray]
    hidden: str = "tanh"
    output: str = "linear"
    direct_feedback: bool = False
    W_mask: list[np.ndarray] | None = None
    frozen: list[bool] = field(default_factory=list)

    def __post_init__(self):
        if not self.frozen:
            self.frozen = [False] * len(self.W)

    # -- shape -------------------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        return [self.W[0].shape[1]] + [w.shape[0] for w in self.W]

    @property
    def n_layers(self) -> int:
        """Number of weight layers (a 30-20-10 network has 2)."""
        return len(self.W)

    @property
    def dtype(self):
        return self.W[0].dtype

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def init(cls, sizes, rng: np.random.Generator, *, hidden="tanh", output="linear",
             init_scale=0.01, feedback_scale=0.5, bias=True, direct_feedback=False,
             sparsity: float = 0.0, feedback_rng: np.random.Generator | None = None,
             dtype=np.float32) -> "RateNet":
        """Uniform weights U[-w, w] per layer and feedback U[-beta, beta] per hidden layer.

        ``init_scale`` and ``feedback_scale`` are one number or one per layer (per hidden layer).
        ``sparsity`` removes that fraction of the elements of every W and B at random, for good;
        the remaining ones come from the same distributions. ``feedback_rng`` draws B (and its
        mask) from its own stream, so B can be shared across runs whose W differ (Figure 3d).
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 3:
            raise ConfigError(f"network sizes {sizes}: need an input, at least one hidden and an output layer")
        if min(sizes) < 1:
            raise ConfigError(f"network sizes {sizes}: every layer needs at least one unit")
        if hidden not in ACTIVATIONS or output not in ACTIVATIONS:
            raise ConfigError(f"activations {hidden!r}/{output!r}: expected one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= sparsity < 1.0:
            raise ConfigError(f"sparsity {sparsity}: expected a fraction in [0, 1)")
        n_layers = len(sizes) - 1
        w_scales = _per_layer(init_scale, n_layers, "init_scale")
        b_scales = _per_layer(feedback_scale, n_layers - 1, "feedback_scale")
        feedback_rng = feedback_rng if feedback_rng is not None else rng
        W, b, masks = [], [], []
        for l in range(n_layers):
            w = np.asfortranarray(rng.uniform(-w_scales[l], w_scales[l], (sizes[l + 1], sizes[l])).astype(dtype))
            if sparsity > 0:
                m = np.asfortranarray((rng.random(w.shape) >= sparsity).astype(dtype))
                w *= m
                masks.append(m)
            W.append(w)
            b.append(rng.uniform(-w_scales[l], w_scales[l], sizes[l + 1]).astype(dtype) if bias
                     else np.zeros(sizes[l + 1], dtype))
        B = []
        for l in range(n_layers - 1):
            shape = (sizes[l + 1], sizes[-1] if direct_feedback else sizes[l + 2])
            bl = feedback_rng.uniform(-b_scales[l], b_scales[l], shape).astype(dtype)
            if sparsity > 0:
                bl *= (feedback_rng.random(shape) >= sparsity)
            B.append(np.ascontiguousarray(bl))
        return cls(W=W, b=b, B=B, hidden=hidden, output=output, direct_feedback=direct_feedback,
                   W_mask=masks if sparsity > 0 else None)

    def copy(self) -> "RateNet":
        return RateNet(W=[np.array(w, order="F") for w in self.W], b=[x.copy() for x in self.b],
                       B=[x.copy() for x in self.B], hidden=self.hidden, output=self.output,
                       direct_feedback=self.direct_feedback,
                       W_mask=None if self.W_mask is None else [np.array(m, order="F") for m in self.W_mask],
                       frozen=list(self.frozen))

    def freeze(self, *layers: int) -> "RateNet":
        """Stop learning in the given weight layers (0 = W0, the input weights); others learn."""
        self.frozen = [l in layers for l in range(self.n_layers)]
        return self

    def normalise_layout(self) -> None:
        """Put every W (and mask) back in Fortran order and the net's dtype (after user edits)."""
        dt = self.dtype
        self.W = [np.asfortranarray(w, dtype=dt) for w in self.W]
        self.b = [np.ascontiguousarray(x, dtype=dt) for x in self.b]
        self.B = [np.ascontiguousarray(x, dtype=dt) for x in self.B]
        if self.W_mask is not None:
            self.W_mask = [np.asfortranarray(m, dtype=dt) for m in self.W_mask]

    # -- computation -------------------------------------------------------------------------
    def layer_kind(self, l: int) -> str:
        return self.output if l == self.n_layers - 1 else self.hidden

    def forward(self, X: np.ndarray) -> list[np.ndarray]:
        """Activities of every layer for a batch X (batch, n_0): [X, h_1, ..., y]."""
        hs = [np.asarray(X, dtype=self.dtype)]
        for l in range(self.n_layers):
            hs.append(activate(self.layer_kind(l), hs[-1] @ self.W[l].T + self.b[l]))
        return hs

    def predict(self, X: np.ndarray, batch: int = 2000) -> np.ndarray:
        """Outputs for a batch, evaluated in blocks so a 10k test set needs little memory."""
        X = np.asarray(X)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        for start in range(0, X.shape[0], batch):
            out[start:start + batch] = self.forward(X[start:start + batch])[-1]
        return out

    def first_nonfinite_layer(self) -> int | None:
        """Index of the first weight layer holding NaN or inf, or None."""
        for l in range(self.n_layers):
            if not (np.isfinite(self.W[l]).all() and np.isfinite(self.b[l]).all()):
                return l
        return None
