"""The regression tasks of Figures 2, 3d and 5: each draws (x, y*) pairs from a fixed target.

A task's target (T, the teacher network, the Q_k) is drawn once from its own generator; examples
are drawn from the generator a caller passes, so several learners can see the same stream.
"""

from __future__ import annotations

import numpy as np

from .network import RateNet


class LinearTeacher:
    """y* = T x with T ~ U[-scale, scale] (n_out x n_in); x ~ N(0, I) (the paper does not say)."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, scale: float = 1.0):
        self.T = rng.uniform(-scale, scale, (n_out, n_in)).astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator):
        X = rng.standard_normal((n, self.T.shape[1]), dtype=np.float32)
        return X, X @ self.T.T


class DeepTeacher:
    """A fixed random tanh network with linear output (30-20-10-10 in Fig. 3d), weights and
    biases ~ U[-scale, scale]; x ~ N(0, I) (the paper does not say)."""

    def __init__(self, sizes, rng: np.random.Generator, scale: float = 0.5):
        self.net = RateNet.init(sizes, rng, hidden="tanh", output="linear", init_scale=scale,
                                feedback_scale=scale, bias=True)

    def sample(self, n: int, rng: np.random.Generator):
        X = rng.standard_normal((n, self.net.sizes[0]), dtype=np.float32)
        return X, self.net.forward(X)[-1]


class QuadraticTarget:
    """y*_k = x^T Q_k x, Q_k ~ U[-scale, scale] (n_in x n_in), x ~ U[-x_range, x_range]."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, scale: float = 0.5,
                 x_range: float = 2.0):
        self.Q = rng.uniform(-scale, scale, (n_out, n_in, n_in)).astype(np.float32)
        self.x_range = x_range

    def sample(self, n: int, rng: np.random.Generator):
        X = rng.uniform(-self.x_range, self.x_range, (n, self.Q.shape[1])).astype(np.float32)
        return X, np.einsum("ni,kij,nj->nk", X, self.Q, X, optimize=True).astype(np.float32)
