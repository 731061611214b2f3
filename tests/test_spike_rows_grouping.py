"""cpu.py's forward pass reads weight rows eight at a time (and makes their pending plasticity
eight rows at a time): each weight and each sum must get the same float32 operations in the same
order as row by row, so these compare its outputs with a plain row-by-row loop bit for bit."""

import numpy as np
import pytest

from spikefa.spiking import cpu

F32 = np.float32


def row_by_row(WT, s_in, s_held, D, coef, mask, due):
    """The forward pass's sums and changed weights, one row at a time, in numpy float32 (cpu.py's
    order: a row's pending change, stream by stream, then its addition to each stream's sum)."""
    WT = WT.copy()
    A = np.zeros((s_in.shape[0], WT.shape[1]), dtype=F32)
    for j in range(WT.shape[0]):
        if due:
            for k in range(s_held.shape[0]):
                if s_held[k, j] != 0:
                    change = F32(coef * s_held[k, j]) * D[k]
                    WT[j] += change * mask[j] if mask is not None else change
        for k in range(s_in.shape[0]):
            if s_in[k, j] != 0:
                A[k] += s_in[k, j] * WT[j]
    return A, WT


def spikes(rng, streams, n, rate, p=0.6):
    if rate:
        return rng.random((streams, n)).astype(F32) * (rng.random((streams, n)) < 0.9)
    return (rng.random((streams, n)) < p).astype(F32)


@pytest.mark.parametrize("streams, due, sparse, rate, slabs", [
    (1, False, False, False, 1), (1, True, False, False, 1), (1, True, True, False, 1),
    (3, True, False, False, 1), (2, True, True, True, 1), (1, True, False, False, 3), (5, True, True, False, 2)])
def test_rows_eight_at_a_time_give_the_row_by_row_bits(streams, due, sparse, rate, slabs):
    rng = np.random.default_rng(streams * 7 + slabs)
    n_in, n_out = 77, 45     # 77 rows: full groups of eight and a remainder; 45 columns: uneven slabs
    WT = rng.normal(0, 0.3, (n_in, n_out)).astype(F32)
    s_in, s_held = spikes(rng, streams, n_in, rate), spikes(rng, streams, n_in, rate, p=0.9)
    s_held[:, :16] = 1            # two groups in which every stream changes every row
    D = rng.normal(0, 1, (streams, n_out)).astype(F32)
    mask = rng.random((n_in, n_out)) < 0.7 if sparse else None
    if sparse:
        WT *= mask
    coef = F32(0.37)
    want_A, want_WT = row_by_row(WT, s_in, s_held, D, coef, mask, due)

    A = np.zeros((streams, n_out), dtype=F32)
    V, P, s_out = (np.zeros((streams, n_out), dtype=F32) for _ in range(3))
    maskT = mask if sparse else np.zeros((1, 1), dtype=bool)
    rows = np.zeros((2, n_in), dtype=np.int64)
    kernels = cpu.parallel if slabs > 1 else cpu.serial
    kernels.forward(WT, F32(1.0), np.zeros(n_out, F32), s_in, A, V, P, s_out, F32(0.9), np.uint64(1), np.uint64(0),
                    1, 0, rate, slabs, due, s_held, D, coef, maskT, sparse, rows)
    assert np.array_equal(WT.view(np.uint32), want_WT.view(np.uint32))
    assert np.array_equal(A.view(np.uint32), want_A.view(np.uint32))


@pytest.mark.parametrize("streams, sparse, slabs", [(1, False, 1), (3, True, 1), (2, False, 2)])
def test_plasticity_alone_gives_the_row_by_row_bits(streams, sparse, slabs):
    """The change a block's last step (or a decay fold) makes without a forward pass."""
    rng = np.random.default_rng(streams + 11 * slabs)
    n_in, n_out = 70, 37
    WT = rng.normal(0, 0.3, (n_in, n_out)).astype(F32)
    s_held = spikes(rng, streams, n_in, False, p=0.8)
    D = rng.normal(0, 1, (streams, n_out)).astype(F32)
    mask = rng.random((n_in, n_out)) < 0.7 if sparse else None
    coef = F32(-0.21)
    _, want_WT = row_by_row(WT, np.zeros_like(s_held), s_held, D, coef, mask, True)
    kernels = cpu.parallel if slabs > 1 else cpu.serial
    kernels.plasticity(WT, mask if sparse else np.zeros((1, 1), dtype=bool), sparse, s_held, D, coef,
                       np.zeros(n_in, dtype=np.int64), slabs)
    assert np.array_equal(WT.view(np.uint32), want_WT.view(np.uint32))
