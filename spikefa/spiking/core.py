"""The per-step scalars of the spiking network, written once and compiled for every target.

Each function here is one piece of a time step (reference.py is the specification, in numpy, of
the whole step) on scalars or on one element of an array. The kernels call them, never their own
copies: cpu.py and gemm.py through :mod:`host` (numba njit, inlined into their loops), cuda.py as
CUDA device functions. :func:`compile_for` builds the set for one target, binding ``exp``,
``tanh`` and ``hash_uniform`` to that target's own (numpy's on the host, ``math``'s on the GPU);
uncompiled, the module is the same set in plain Python (host-side arithmetic such as the lazy
decay's float64 scale uses it as it is).

All arithmetic is float32 except the decay scale (float64); the order of every operation is the
reference's, so the backends agree to float32 rounding and draw the same spikes.

Numba's cache keys a compiled kernel on its own file only: after editing this file (or rng.py),
touch host.py, cpu.py and gemm.py (or delete spikefa/spiking/__pycache__/*.nbi) so that their
cached kernels are compiled again with the new scalars. An installed release has fresh files.
"""

from __future__ import annotations

import types

import numpy as np

from .. import rng
from .codes import PHI_TANH

INPUT_CAP = np.float32(0.95)    # input spike probability min(x, 0.95)
FOLD_BELOW = 0.5                # lazy decay: the scale is folded into WT once it drops below this

# the target's functions; compile_for binds its own
exp = np.exp
tanh = np.tanh
hash_uniform = rng.hash_uniform


def stream_key(layer, stream, purpose):
    """The ``layer`` word of a random key (rng.layer_key) as np.uint64: layer, purpose, stream."""
    return np.uint64(layer) | (np.uint64(purpose) << np.uint64(8)) | (np.uint64(stream) << np.uint64(16))


def uniform(seed, t, key, unit):
    """The counter-based uniform of (seed, step t, key, unit); seed, t and key np.uint64."""
    return hash_uniform(seed, t, key, np.uint64(unit))


def spike(u, p):
    """A spike, 1.0 where u < p, else 0.0 (float32)."""
    return np.float32(1.0) if u < p else np.float32(0.0)


def sample(p, rate, seed, t, key, unit):
    """A unit's output: its spike [u < p], or p itself in rate mode."""
    if rate:
        return p
    return spike(uniform(seed, t, key, unit), p)


def input_probability(x):
    """The spike probability of an input pixel x in [0, 1]: min(x, 0.95)."""
    return min(x, INPUT_CAP)


def sigmoid_of_exp(e):
    """sigma(v) = 1 / (1 + e) given e = exp(-v) (gemm.py takes exp over a whole array first)."""
    return np.float32(1.0) / (np.float32(1.0) + e)


def sigmoid(v):
    """The spike probability sigma(v) = 1 / (1 + exp(-v))."""
    return sigmoid_of_exp(exp(-v))


def phi(u, kind):
    """phi_d(u): tanh (PHI_TANH) or linear."""
    if kind == PHI_TANH:
        return tanh(u)
    return u


def leak(x, drive, tau):
    """x + tau (drive - x): the update of every PSP and feedback neuron (V, U)."""
    return x + tau * (drive - x)


def class_target(i, label, g):
    """y*: 1.0 on output unit i when it is one of the g units of class ``label``, else 0.0."""
    lo = label * g
    return np.float32(1.0) if lo <= i and i < lo + g else np.float32(0.0)


def error_drive(i, label, g, p):
    """The drive y* - P of error neuron i (output unit i's probability p)."""
    return class_target(i, label, g) - p


def plasticity_factor(mod, p):
    """D = phi_d(U) * sigma'(V), with sigma' = p (1 - p)."""
    return mod * p * (np.float32(1.0) - p)


def bias_step(b, total, eta, gamma):
    """A bias after one learning step: b + eta sum_k D[k] - gamma b (total = sum_k D[k])."""
    return b + (eta * total - gamma * b)


def class_vote(out, k, c, g):
    """What class c's g output units of stream k add to its vote this step (out: spikes, P or V)."""
    total = np.float32(0.0)
    for i in range(c * g, (c + 1) * g):
        total += out[k, i]
    return total


def decayed_scale(scale, gamma):
    """The float64 decay scale after one learning step: W <- (1 - gamma) W, held in the scale."""
    return scale * (1.0 - np.float64(gamma))


def plasticity_coef(eta, scale):
    """What eta D s^T is multiplied by before it is added to the stored WT: eta / scale, float32."""
    return np.float32(np.float64(eta) / scale)


def must_fold(scale):
    """Whether the pending decay is folded into WT now (then the scale is 1 again)."""
    return scale < FOLD_BELOW


def integrate_and_sample(V, P, s_out, k, i, drive, bias, tau, seed, t, key, rate):
    """Unit i of stream k: V <- V + tau (drive + bias - V), P = sigma(V), its output sample."""
    v = leak(V[k, i], drive + bias, tau)
    V[k, i] = v
    p = sigmoid(v)
    P[k, i] = p
    s_out[k, i] = sample(p, rate, seed, t, key, i)


def factor_and_bias(b, Mod, P, D, i, eta, gamma):
    """Unit i: D[k, i] <- the plasticity factor of each stream k, and b[i]'s step with their sum
    (summed over the streams in order)."""
    total = np.float32(0.0)
    for k in range(P.shape[0]):
        d = plasticity_factor(Mod[k, i], P[k, i])
        D[k, i] = d
        total += d
    b[i] = bias_step(b[i], total, eta, gamma)


FUNCTIONS = (stream_key, uniform, spike, sample, input_probability, sigmoid_of_exp, sigmoid, phi, leak,
             class_target, error_drive, plasticity_factor, bias_step, class_vote, decayed_scale,
             plasticity_coef, must_fold, integrate_and_sample, factor_and_bias)


def compile_for(decorator, *, exp, tanh, name: str) -> types.ModuleType:
    """Every function of :data:`FUNCTIONS` (and ``hash_uniform``) compiled by ``decorator``
    (``njit(...)`` or ``cuda.jit(device=True)``), calling one another and the target's ``exp`` and
    ``tanh``. Returned as a module named ``name``: compiled code calls ``K.sigmoid(v)``."""
    module = types.ModuleType(name, __doc__)
    namespace = module.__dict__
    namespace.update({key: value for key, value in globals().items()
                      if not key.startswith("__") and key not in ("compile_for", "FUNCTIONS")})
    namespace.update(exp=exp, tanh=tanh, hash_uniform=decorator(rng.hash_uniform))
    for fn in FUNCTIONS:
        copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
        copy.__qualname__ = fn.__qualname__
        copy.__module__ = fn.__module__
        copy.__doc__ = fn.__doc__
        namespace[fn.__name__] = decorator(copy)
    return module
