"""The update of one forward unit at one step, one source for every compiled backend.

cpu.py compiles it with Numba (inlined into its forward kernel) and cuda.py as a CUDA device
function, each binding ``sigmoid`` and ``hash_uniform`` to its own build of them
(:func:`compile_for`), so the two backends cannot drift apart. reference.py is the readable
specification it implements (step 2 of its docstring).
"""

from __future__ import annotations

import types

import numpy as np


def integrate_and_sample(V, P, s_out, k, i, drive, bias, tau, seed, t, key, rate):
    """Unit i of stream k: V <- V + tau (drive + bias - V), P = sigma(V), its spike [u < P]
    (P itself in rate mode), u the counter-based uniform of (seed, t, key, i)."""
    v = V[k, i] + tau * (drive + bias - V[k, i])
    V[k, i] = v
    p = sigmoid(v)  # noqa: F821 (bound by compile_for)
    P[k, i] = p
    if rate:
        s_out[k, i] = p
    else:
        u = hash_uniform(seed, t, key, np.uint64(i))  # noqa: F821
        s_out[k, i] = np.float32(1.0) if u < p else np.float32(0.0)


def compile_for(decorator, *, sigmoid, hash_uniform):
    """``integrate_and_sample`` compiled by ``decorator`` (njit or cuda.jit) with its callees bound."""
    namespace = {"np": np, "sigmoid": sigmoid, "hash_uniform": hash_uniform}
    code = integrate_and_sample.__code__
    fn = types.FunctionType(code, namespace, code.co_name)
    fn.__qualname__ = integrate_and_sample.__qualname__
    fn.__module__ = __name__
    fn.__doc__ = integrate_and_sample.__doc__
    return decorator(fn)
