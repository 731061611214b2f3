"""Device kernels that copy one recorded step into a row of a device block (CUDA backend only).

Imported only when a CUDA network is recorded, so CPU-only installs never import numba.cuda.
"""

from numba import cuda


@cuda.jit
def gather_kernel(src, units, dst, row):
    i = cuda.grid(1)
    if i < units.shape[0]:
        dst[row, i] = src[units[i]]


@cuda.jit
def copy_kernel(src, dst, row):
    i = cuda.grid(1)
    if i < src.shape[0]:
        dst[row, i] = src[i]
