"""The Numba CPU backend: the step of reference.py, fast, with the same random draws.

What makes it fast:
- Forward weights are stored transposed (``WT[h]``, one contiguous row per presynaptic unit).
  Presynaptic activity is binary in spiking mode, so the forward pass adds up only the rows of
  units that spiked, and plasticity changes only those rows: a step reads W once for the
  forward pass and reads and writes it once for plasticity, in proportion to the spike rate.
  Rate mode runs the same loops (a row is skipped only when its presynaptic value is 0).
- Plasticity of a step is held over to the next step's forward pass, which applies it to each
  weight row as it reads the row (then adds the row up if its unit spiked now): a unit that spiked
  in both steps (about 40% of the hidden units' spikes in Figure 4's network) has its row read once
  instead of twice. Every weight gets the same float32 operations in the same order as in the
  reference (the change before the row is read), and the last step of a block applies its own
  plasticity before returning, so nothing outside a block ever sees a change pending.
- Rows are read eight at a time: the forward pass lists the rows it adds up and the rows it
  changes, then adds eight rows into A (and changes eight rows) in one pass over the slab. Each
  element still gets the same float32 operations in the same order, but eight rows stream from
  memory at once instead of one: scattered 6 kB rows, one by one, read at about half the copy
  bandwidth, since every jump to the next row stalls the hardware prefetcher.
- Weight decay is lazy: the true weights are scale[h] * WT[h].T with scale[h] (float64)
  multiplied by (1 - gamma) each learning step; plasticity adds eta / scale[h] * D s^T to WT so
  that W <- (1 - gamma) W + eta D s^T exactly as in the reference. When scale drops below 1/2 it
  is folded into WT (once every ~0.7/gamma steps). Unlike eager decay in float32, a gamma far
  below float32 resolution (the paper's 1e-8) is not lost to rounding.
- Every array is allocated before the step loop; the loop runs inside one compiled function for a
  whole block of steps (SpikingNetwork.train runs blocks up to the next step a recorder needs).
- Every kernel is built twice from one source: serial (one stream on a busy machine: a kernel
  call is ~0.1-1 ms, too short to pay for waking threads) and parallel (prange: forward and plasticity
  over one slab of postsynaptic units per thread, feedback over presynaptic rows), chosen
  per call (backends.CpuBackend.threads_for). Only the feedback dot products may be reassociated.
The per-unit arithmetic (integration, sampling, error and feedback neurons, plasticity factor,
votes, decay) is core.py's, compiled for the host in host.py (``K``) and inlined here.
All kernels are compiled with cache=True so a second run loads them from Numba's cache.
These are the "spike-rows" kernels. With many streams the step is bound by arithmetic instead of
memory, and the backend runs gemm.py's BLAS products over all streams (backends.CpuBackend.kernel_for).

Entry points: ``run_steps_serial`` and ``run_steps_parallel`` (``serial`` and ``parallel`` hold
each build's kernels), each
``(inputs, block, options, layers, streams, held, slabs, samples)`` with the bundles of bundles.py
and ``slabs`` (the threads) the number of slabs the forward pass splits postsynaptic units into.
"""

from __future__ import annotations

import types

import numpy as np
from numba import prange

from .codes import FEEDBACK_BP, FEEDBACK_FA, FEEDBACK_NONE, READOUT_PSP, READOUT_RATE
from .bfloat16 import as_float32
from .host import K, bias_and_factor, count_votes, draw_input, host_jit

_FAST = {"reassoc", "contract"}


ROWS_AT_ONCE = 8   # weight rows one pass over a slab adds up: eight memory streams in flight at once


def _forward(WT, scale, b, s_in, A, V, P, s_out, tau, seed, t, layer, purpose, rate, slabs,
             due, s_held, D, coef, maskT, use_mask, rows):
    """A = s_in W^T and the units' integration and sampling; when ``due``, each row first gets the
    previous step's plasticity (s_held, D, coef: _plasticity's arguments), before it is read.
    ``rows`` (2, n_in) is scratch for the lists of rows to add up and to change."""
    n_in, n_out = WT.shape
    S = s_in.shape[0]
    adds, changes = rows[0], rows[1]
    n_add = _rows_with_input(s_in, adds)
    n_change = _rows_with_input(s_held, changes) if due else 0
    # one slab of postsynaptic units per thread: long rows vectorise best, and each spiking row is
    # read once per slab
    n_slabs = max(1, slabs)
    for c in prange(n_slabs):
        i0, i1 = _slab(c, n_slabs, n_out)
        # loops run over slice views from 0 so that LLVM vectorises them
        for k in range(S):
            A[k, i0:i1] = 0
        changed = np.int64(0)   # not a literal 0: one compiled _change_rows for every call site
        for g0 in range(0, n_add, ROWS_AT_ONCE):
            g1 = min(g0 + ROWS_AT_ONCE, n_add)
            # every pending change to a row up to this group's last is made before the group is read
            # (changes come eight at a time, some ahead of need: a row's change reads only the row)
            while changed < n_change and changes[changed] <= adds[g1 - 1]:
                upto = min(changed + ROWS_AT_ONCE, n_change)
                _change_rows(WT, changes, changed, upto, i0, i1, s_held, D, coef, maskT, use_mask)
                changed = upto
            for k in range(S):
                _add_rows(A[k, i0:i1], WT, s_in, k, adds, g0, g1, i0, i1)
        _change_rows(WT, changes, changed, n_change, i0, i1, s_held, D, coef, maskT, use_mask)
        for k in range(S):
            key = K.stream_key(layer, k, purpose)
            for i in range(i0, i1):
                A[k, i] *= scale
                K.integrate_and_sample(V, P, s_out, k, i, A[k, i], b[i], tau, seed, t, key, rate)


@host_jit(inline="always")
def _copy_into(dst, src):
    """dst[...] = src for two arrays of one shape, as a loop: numba's broadcasting assignment
    compiles an error path that took 3.5 s of every first compile."""
    for k in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[k, j] = src[k, j]


@host_jit(inline="always")
def _slab(c, n_slabs, n):
    """Columns i0:i1 of slab c of n_slabs: equal slabs, each a multiple of 16 long but the last."""
    size = ((n + n_slabs - 1) // n_slabs + 15) // 16 * 16
    i0 = min(c * size, n)
    return i0, min(i0 + size, n)


@host_jit(inline="always")
def _rows_with_input(s, rows):
    """Fills rows with the presynaptic units j (ascending) that are nonzero in some stream; their count."""
    n = np.int64(0)
    for j in range(s.shape[1]):
        for k in range(s.shape[0]):
            if s[k, j] != 0:
                rows[n] = j
                n += 1
                break
    return n


@host_jit()
def _add_rows(acc, WT, s_in, k, rows, g0, g1, i0, i1):
    """acc += s_in[k, j] WT[j, i0:i1] for the rows j = rows[g0:g1] where stream k is nonzero, in row
    order. A group of eight rows all nonzero in stream k goes through acc in one pass: each element
    gets the same float32 additions in the same order as row by row, but eight rows stream from
    memory at once, which reads scattered rows 1.5-1.8x faster than one at a time."""
    full = g1 - g0 == ROWS_AT_ONCE
    if full:
        for q in range(g0, g1):
            if s_in[k, rows[q]] == 0:
                full = False
    if full:
        j0, j1, j2, j3 = rows[g0], rows[g0 + 1], rows[g0 + 2], rows[g0 + 3]
        j4, j5, j6, j7 = rows[g0 + 4], rows[g0 + 5], rows[g0 + 6], rows[g0 + 7]
        c0, c1, c2, c3 = s_in[k, j0], s_in[k, j1], s_in[k, j2], s_in[k, j3]
        c4, c5, c6, c7 = s_in[k, j4], s_in[k, j5], s_in[k, j6], s_in[k, j7]
        r0, r1, r2, r3 = WT[j0, i0:i1], WT[j1, i0:i1], WT[j2, i0:i1], WT[j3, i0:i1]
        r4, r5, r6, r7 = WT[j4, i0:i1], WT[j5, i0:i1], WT[j6, i0:i1], WT[j7, i0:i1]
        for i in range(acc.shape[0]):
            acc[i] = (acc[i] + c0 * r0[i] + c1 * r1[i] + c2 * r2[i] + c3 * r3[i]
                      + c4 * r4[i] + c5 * r5[i] + c6 * r6[i] + c7 * r7[i])
    else:
        for q in range(g0, g1):
            sj = s_in[k, rows[q]]
            if sj != 0:
                row = WT[rows[q], i0:i1]
                for i in range(acc.shape[0]):
                    acc[i] += sj * row[i]


@host_jit()
def _change_rows(WT, rows, q0, q1, i0, i1, s_held, D, coef, maskT, use_mask):
    """The pending plasticity of rows[q0:q1] on columns i0:i1: _add_plasticity_row's arithmetic,
    stream by stream, on eight rows at once where stream k spiked in all of them (see _add_rows).
    Sparse networks (use_mask) go row by row: rare enough not to double the eight-row kernel."""
    q = q0
    while q < q1:
        q_end = min(q + ROWS_AT_ONCE, q1)
        if use_mask or q_end - q < ROWS_AT_ONCE:
            for r in range(q, q_end):
                _add_plasticity_row(WT[rows[r], i0:i1], rows[r], i0, s_held, D, coef, maskT, use_mask)
        else:
            for k in range(s_held.shape[0]):
                _change_eight_rows(WT, rows, q, k, i0, i1, s_held, D, coef)
        q = q_end


@host_jit()
def _change_eight_rows(WT, rows, q, k, i0, i1, s_held, D, coef):
    """Stream k's change to the eight rows rows[q:q + 8] of a dense network, columns i0:i1."""
    j0, j1, j2, j3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
    j4, j5, j6, j7 = rows[q + 4], rows[q + 5], rows[q + 6], rows[q + 7]
    c0, c1, c2, c3 = s_held[k, j0], s_held[k, j1], s_held[k, j2], s_held[k, j3]
    c4, c5, c6, c7 = s_held[k, j4], s_held[k, j5], s_held[k, j6], s_held[k, j7]
    if c0 == 0 or c1 == 0 or c2 == 0 or c3 == 0 or c4 == 0 or c5 == 0 or c6 == 0 or c7 == 0:
        for r in range(q, q + ROWS_AT_ONCE):
            sj = s_held[k, rows[r]]
            if sj != 0:
                _add_scaled(WT[rows[r], i0:i1], coef * sj, D[k, i0:i1])
        return
    c0, c1, c2, c3 = coef * c0, coef * c1, coef * c2, coef * c3
    c4, c5, c6, c7 = coef * c4, coef * c5, coef * c6, coef * c7
    d = D[k, i0:i1]
    r0, r1, r2, r3 = WT[j0, i0:i1], WT[j1, i0:i1], WT[j2, i0:i1], WT[j3, i0:i1]
    r4, r5, r6, r7 = WT[j4, i0:i1], WT[j5, i0:i1], WT[j6, i0:i1], WT[j7, i0:i1]
    for i in range(d.shape[0]):
        r0[i] += c0 * d[i]
        r1[i] += c1 * d[i]
        r2[i] += c2 * d[i]
        r3[i] += c3 * d[i]
        r4[i] += c4 * d[i]
        r5[i] += c5 * d[i]
        r6[i] += c6 * d[i]
        r7[i] += c7 * d[i]


@host_jit()
def _error(labels, g, P, U, Mod, tau, phi_kind):
    for k in range(P.shape[0]):
        for i in range(P.shape[1]):
            U[k, i] = K.leak(U[k, i], K.error_drive(i, labels[k], g, P[k, i]), tau)
            Mod[k, i] = K.phi(U[k, i], phi_kind)


def _feedback(Bm, factor, M_src, U, Mod, tau, phi_kind):
    n = Bm.shape[0]
    S = U.shape[0]
    for j in prange(n):
        row = Bm[j]
        k = 0
        while k + 4 <= S:  # four streams per pass over the row: one load of B feeds four sums
            m0, m1, m2, m3 = M_src[k], M_src[k + 1], M_src[k + 2], M_src[k + 3]
            a0 = a1 = a2 = a3 = np.float32(0.0)
            for i in range(row.shape[0]):
                r = as_float32(row[i])   # B may be stored as bfloat16 bits (bfloat16.py)
                a0 += r * m0[i]
                a1 += r * m1[i]
                a2 += r * m2[i]
                a3 += r * m3[i]
            _feedback_update(U, Mod, k, j, factor * a0, tau, phi_kind)
            _feedback_update(U, Mod, k + 1, j, factor * a1, tau, phi_kind)
            _feedback_update(U, Mod, k + 2, j, factor * a2, tau, phi_kind)
            _feedback_update(U, Mod, k + 3, j, factor * a3, tau, phi_kind)
            k += 4
        while k < S:
            m = M_src[k]
            acc = np.float32(0.0)
            for i in range(row.shape[0]):
                acc += as_float32(row[i]) * m[i]
            _feedback_update(U, Mod, k, j, factor * acc, tau, phi_kind)
            k += 1


@host_jit(inline="always")
def _feedback_update(U, Mod, k, j, drive, tau, phi_kind):
    U[k, j] = K.leak(U[k, j], drive, tau)
    Mod[k, j] = K.phi(U[k, j], phi_kind)


@host_jit(inline="always")
def _add_plasticity_row(row, j, i0, s_in, D, coef, maskT, use_mask):
    """row (WT[j, i0:i0 + len(row)]) += coef sum_k s_in[k, j] D[k, i0:...], stream by stream in order."""
    n = row.shape[0]
    for k in range(s_in.shape[0]):
        sj = s_in[k, j]
        if sj != 0:
            _add_plasticity_stream(row, j, i0, coef * sj, D[k, i0:i0 + n], maskT, use_mask)


@host_jit(inline="always")
def _add_plasticity_stream(row, j, i0, c, d, maskT, use_mask):
    """row += c d (c d keep with a sparse mask): one stream's change to one weight row."""
    if use_mask:
        keep = maskT[j, i0:i0 + row.shape[0]]
        for i in range(row.shape[0]):
            row[i] += c * d[i] * keep[i]
    else:
        _add_scaled(row, c, d)


@host_jit(inline="always")
def _add_scaled(row, c, d):
    """row += c d: one stream's change to a weight row of a dense network."""
    for i in range(row.shape[0]):
        row[i] += c * d[i]


def _plasticity(WT, maskT, use_mask, s_in, D, coef, rows, slabs):
    """WT += coef s_in^T D, each row stream by stream (_change_rows: eight rows at a time), one slab
    of columns per thread; ``rows`` (n_in,) is scratch for the list of rows to change."""
    n = _rows_with_input(s_in, rows)
    n_slabs = max(1, slabs)
    for c in prange(n_slabs):
        i0, i1 = _slab(c, n_slabs, WT.shape[1])
        _change_rows(WT, rows, np.int64(0), n, i0, i1, s_in, D, coef, maskT, use_mask)


def _run_steps(inputs, block, opts, layers, st, held, slabs, samples):
    """Steps block.seq0 .. seq0+n_steps-1 of an image sequence: reference.run_steps with the bundles
    of bundles.py; ``held`` (bundles.Pending) keeps plasticity over to the next step's forward pass;
    ``slabs`` (the threads) is the number of slabs the forward pass splits postsynaptic units into;
    ``samples`` (bundles.Samples): what recorders take after each step (_take_samples)."""
    X, order, labels, counts = inputs
    WT, scale, b, B = layers.WT, layers.scale, layers.b, layers.B
    L = len(WT)
    N, g, tau, rate, seed = block.steps_per_image, opts.g, opts.tau, opts.rate, opts.seed
    learn, purpose = block.learn, block.purpose
    for q in range(block.seq0, block.seq0 + block.n_steps):
        i_img = q // N
        t = np.uint64(block.t0 + q - block.seq0)
        if block.fresh and q % N == 0:
            for h in range(L):
                st.V[h][...] = 0
                st.U[h][...] = 0
        draw_input(X, order[i_img], st.s[0], seed, t, purpose, rate)
        for h in range(L):
            _forward(WT[h], np.float32(scale[h]), b[h], st.s[h], st.A[h], st.V[h], st.P[h], st.s[h + 1], tau,
                     seed, t, h + 1, purpose, rate, slabs, held.due[h], held.s[h], st.D[h], held.coef[h],
                     layers.maskT[h], layers.use_mask, held.rows[h])
            held.due[h] = False
        if learn:
            _error(labels[i_img], g, st.P[L - 1], st.U[L - 1], st.Mod[L - 1], tau, opts.phi)
        if learn and opts.feedback != FEEDBACK_NONE:
            for h in range(L - 2, -1, -1):
                if opts.feedback == FEEDBACK_FA:
                    _feedback(B[h], np.float32(1.0), st.Mod[h + 1], st.U[h], st.Mod[h], tau, opts.phi)
                elif opts.feedback == FEEDBACK_BP:
                    _feedback(WT[h + 1], np.float32(scale[h + 1]), st.Mod[h + 1], st.U[h], st.Mod[h], tau, opts.phi)
                else:  # direct: from the error neurons
                    _feedback(B[h], np.float32(1.0), st.Mod[L - 1], st.U[h], st.Mod[h], tau, opts.phi)
        if block.readout == READOUT_RATE:
            count_votes(st.P[L - 1], counts[i_img], g)
        elif block.readout == READOUT_PSP:
            count_votes(st.V[L - 1], counts[i_img], g)
        else:
            count_votes(st.s[L], counts[i_img], g)
        if learn:
            for h in range(L):
                if not layers.learns[h]:
                    continue
                bias_and_factor(b[h], st.Mod[h], st.P[h], st.D[h], opts.eta, opts.gamma)
                scale[h] = K.decayed_scale(scale[h], opts.gamma)
                coef = K.plasticity_coef(opts.eta, scale[h])
                if K.must_fold(scale[h]):     # the fold needs the change made: no holding over
                    _plasticity(WT[h], layers.maskT[h], layers.use_mask, st.s[h], st.D[h], coef,
                                held.rows[h][1], slabs)
                    _fold(WT[h], np.float32(scale[h]))
                    scale[h] = 1.0
                else:                         # made by the next step's forward pass, or below
                    _copy_into(held.s[h], st.s[h])
                    held.coef[h] = coef
                    held.due[h] = True
        if samples.what.shape[0]:
            _take_samples(samples, st, q - block.seq0)
    if block.settle:                          # else the next block's forward pass makes the change
        _settle(layers, st, held, slabs)


@host_jit()
def _take_samples(samples, st, j):
    """Copies what recorders sample after step j of a block into their rows of samples.out: the
    values an observer reading the state after that step would copy (record/compiled.py)."""
    what, units, out = samples.what, samples.units, samples.out
    for c in range(what.shape[0]):
        row = samples.rows[what[c, 6], j]
        if row < 0:
            continue
        group, index, k, col, first, n = what[c, 0], what[c, 1], what[c, 2], what[c, 3], what[c, 4], what[c, 5]
        if group == 0:
            src = st.s[index][k]
        elif group == 1:
            src = st.V[index][k]
        elif group == 2:
            src = st.U[index][k]
        else:
            src = st.Mod[index][k]
        dst = out[row]
        for u in range(n):
            dst[col + u] = src[units[first + u]]


def _settle(layers, st, held, slabs):
    """Makes the plasticity ``held`` keeps over: at the end of a block, so that nothing outside it
    sees a change pending, unless the block was run with settle=False (loops.train_slots)."""
    for h in range(len(layers.WT)):
        if held.due[h]:
            _plasticity(layers.WT[h], layers.maskT[h], layers.use_mask, held.s[h], st.D[h], held.coef[h],
                        held.rows[h][1], slabs)
            held.due[h] = False


def _fold(WT, factor):
    for j in prange(WT.shape[0]):
        for i in range(WT.shape[1]):
            WT[j, i] *= factor


def _variant(fn, suffix: str, namespace: dict):
    """A copy of ``fn`` whose globals are ``namespace`` and whose name ends in ``suffix``.

    Numba names its cache files after a function's qualified name, so the serial and the
    parallel build of one kernel are cached apart.
    """
    g = types.FunctionType(fn.__code__, namespace, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    g.__qualname__ = fn.__qualname__ + suffix
    g.__module__ = fn.__module__
    return g


def _build(parallel: bool) -> types.SimpleNamespace:
    """The kernels, compiled serial or parallel: forward, feedback, plasticity, fold, run_steps."""
    suffix = "_parallel" if parallel else "_serial"
    namespace = dict(globals())
    for fn, fast in ((_forward, False), (_feedback, True), (_plasticity, False), (_fold, False)):
        namespace[fn.__name__] = host_jit(parallel=parallel, fastmath=_FAST if fast else False)(
            _variant(fn, suffix, namespace))
    namespace["_settle"] = host_jit()(_variant(_settle, suffix, namespace))
    return types.SimpleNamespace(run_steps=host_jit()(_variant(_run_steps, suffix, namespace)),
                                 settle=namespace["_settle"],
                                 **{name.lstrip("_"): namespace[name]
                                    for name in ("_forward", "_feedback", "_plasticity", "_fold")})


# a step's kernels on one stream of the Figure 4 network take ~0.1-1 ms: too short to pay for
# waking a thread pool on a busy machine, so one stream runs the serial build by default
serial = _build(parallel=False)
parallel = _build(parallel=True)
run_steps_serial = serial.run_steps
run_steps_parallel = parallel.run_steps
