"""Counter-based random numbers keyed on (seed, step, layer, unit).

Every backend (numpy, Numba CPU, Numba CUDA) draws the uniform for a unit at a step from the
same pure function of its key, so all backends draw the same spikes with no generator state to
carry, checkpoint or split across threads. The function is a SplitMix64-style finaliser applied
twice; its 24 top bits give a float32 in [0, 1) that is exact in float32.

``hash_uniform`` is written in plain scalar arithmetic on uint64 so that the same source compiles
with ``numba.njit`` and ``numba.cuda.jit(device=True)``; ``uniform`` is the vectorised numpy
spec that tests compare them with.

Parallel input streams and other independent draws on the same layer are separated through the
``layer`` word: use :func:`layer_key` (stream, layer, purpose) rather than inventing offsets.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S40 = np.uint64(40)
_INV24 = np.float32(1.0 / 16777216.0)


def hash_uniform(seed, step, layer, unit):
    """Uniform float32 in [0, 1) for one key; scalar code that Numba compiles for CPU and CUDA.

    All four arguments must already be np.uint64 (Numba mixes signed and unsigned into float).
    """
    # the mixer is written out twice (not called) so one source compiles for every target
    z = seed * _GOLDEN + step
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    z = z ^ ((layer << _S32) | unit)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.float32(z >> _S40) * _INV24


def layer_key(layer: int, stream: int = 0, purpose: int = 0) -> int:
    """The ``layer`` word of a key: 8 bits of layer, 8 of purpose, the rest for the stream.

    purpose 0 is a spike draw; other values are free for other independent draws.
    """
    return int(layer) | (int(purpose) << 8) | (int(stream) << 16)


def uniform(seed: int, step: int, layer: int, units) -> np.ndarray:
    """Vectorised reference: uniforms for ``units`` (array of unit indices) at one step."""
    units = np.asarray(units, dtype=np.uint64)
    with np.errstate(over="ignore"):
        s = np.full(units.shape, seed, dtype=np.uint64)
        h = _mix_array(s * _GOLDEN + np.uint64(step))
        h = _mix_array(h ^ ((np.uint64(layer) << _S32) | units))
    return (h >> _S40).astype(np.float32) * _INV24


def _mix_array(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def bernoulli(seed: int, step: int, layer: int, p: np.ndarray) -> np.ndarray:
    """Reference spike draw: 1 where uniform < p, as float32 (the convention of every backend)."""
    u = uniform(seed, step, layer, np.arange(p.size)).reshape(p.shape)
    return (u < p).astype(np.float32)
