"""Feedback matrices stored at 16 bits (``network.feedback_dtype = "bfloat16"``).

B never changes after it is drawn, and the cpu backend's one-stream step reads all of it every
learning step (the feedback pass is dense), so storing it at 16 bits halves the bytes of the
largest dense read. The model keeps one definition on every backend: B's values are rounded to
bfloat16 (round to nearest, ties to even: float32 with the low 16 bits of the mantissa cleared)
when they are drawn, and every backend computes with exactly those values in float32. The cpu
spike-rows kernel stores only the high 16 bits and widens each to float32 with one shift as it
reads (:func:`as_float32`, inlined by Numba); the numpy reference, gemm and cuda hold the rounded
values as float32.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

DTYPES = ("float32", "bfloat16")


def round_to_bfloat16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).reshape(a.shape)


def high_bits(a: np.ndarray) -> np.ndarray:
    """The high 16 bits of each float32 of ``a`` (exactly its value when ``a`` is bfloat16-rounded)."""
    return np.ascontiguousarray((np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16))


def as_float32(x):
    """A float32 from a stored element: bfloat16 bits (uint16) widened, a float passed on."""
    if isinstance(x, (np.uint16, int)) and not isinstance(x, bool):
        return np.array([int(x) << 16], dtype=np.uint32).view(np.float32)[0]
    return np.float32(x)


@intrinsic
def _widen(typingctx, bits):
    def codegen(context, builder, signature, args):
        wide = builder.zext(args[0], ir.IntType(32))
        wide = builder.shl(wide, ir.Constant(ir.IntType(32), 16))
        return builder.bitcast(wide, ir.FloatType())
    return types.float32(types.uint16), codegen


@overload(as_float32, inline="always")
def _as_float32(x):
    if x == types.uint16:
        return lambda x: _widen(x)
    if isinstance(x, types.Float):
        return lambda x: x
    return None
