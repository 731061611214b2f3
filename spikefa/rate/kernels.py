"""Numba kernel: per-example training of a fixed layered network, every rule of rules.py.

One call trains on a block of examples and allocates nothing: scratch vectors come in as
arguments. It works on the transposed forward weights WT[l] = W[l].T (C-contiguous, shape
(n_in, n_out)), so the forward pass and the update are axpys over one input unit's outgoing
weights: contiguous, vectorised, and skipped entirely for inputs that are exactly zero (about
80% of an MNIST image's pixels).

Weight decay is applied lazily: layer l's true weights are scales[l] * WT[l]; a decay step only
multiplies the scale, and the update is divided by it. The caller folds the scale back into the
weights after the block (``fold_scales``), so the decay costs nothing per example.

Numerics: float32 throughout (the update is a small difference of float32-sized weights; float64
would double the memory traffic that bounds the MNIST step). Reductions may be reassociated
(vectorised); results agree with the numpy specification to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# rule codes, in the order of rules.RULES
BP, FA, FA_FPRIME, DFA, SHALLOW, NODE_PERTURBATION = range(6)
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}   # no "nnan"/"ninf": the NaN checks must stay


@njit(cache=True, fastmath=_FASTMATH)
def _act(code, a):
    if code == 1:
        return np.float32(math.tanh(a))
    if code == 2:
        return np.float32(1.0 / (1.0 + math.exp(-a)))
    return np.float32(a)


@njit(cache=True, fastmath=_FASTMATH)
def _dact(code, h):
    if code == 1:
        return np.float32(1.0) - h * h
    if code == 2:
        return h * (np.float32(1.0) - h)
    return np.float32(1.0)


@njit(cache=True, fastmath=_FASTMATH)
def _forward(WTs, bs, scales, x, Hs, hidden_code, out_code, noise, noise_t, sigma, perturb):
    """Fill Hs[l] with the activity of layer l+1; return the first layer whose input sum is not
    finite, or -1."""
    L = len(WTs)
    offset = 0
    for l in range(L):
        WT = WTs[l]
        h = Hs[l]
        n_in, n_out = WT.shape
        inp = x if l == 0 else Hs[l - 1]
        for i in range(n_out):
            h[i] = 0.0
        for j in range(n_in):
            v = inp[j]
            if v != 0.0:
                for i in range(n_out):
                    h[i] += v * WT[j, i]
        code = out_code if l == L - 1 else hidden_code
        s = np.float32(scales[l])
        b = bs[l]
        bad = False
        for i in range(n_out):
            a = s * h[i] + b[i]
            if perturb:
                a += sigma * noise[noise_t, offset + i]
            if not math.isfinite(a):
                bad = True
            h[i] = _act(code, a)
        if bad:
            return l
        offset += n_out
    return -1


@njit(cache=True, fastmath=_FASTMATH)
def _matvec_rows(M, v, out):
    """out = M @ v for a C-contiguous M (rows are contiguous)."""
    for i in range(M.shape[0]):
        acc = np.float32(0.0)
        for k in range(M.shape[1]):
            acc += M[i, k] * v[k]
        out[i] = acc


@njit(cache=True, fastmath=_FASTMATH)
def _angle(a, b):
    dot = 0.0
    na = 0.0
    nb = 0.0
    for i in range(a.size):
        dot += a[i] * b[i]
        na += a[i] * a[i]
        nb += b[i] * b[i]
    if na == 0.0 or nb == 0.0:
        return np.nan
    c = dot / math.sqrt(na * nb)
    c = min(1.0, max(-1.0, c))
    return math.degrees(math.acos(c))


@njit(cache=True, fastmath=_FASTMATH)
def train_block(WTs, bs, Bs, MTs, X, Y, order, rule, hidden_code, out_code, eta, decay, learns,
                use_mask, noise, sigma, Hs, Hps, Gs, Ds, err, dbp, scales, angles, record_angle):
    """Train on the examples X[order[t]], Y[order[t]] for t = 0..len(order)-1, in place.

    learns[l] is 0 for a frozen layer. MTs are the transposed masks (used when use_mask).
    Hps is scratch for node perturbation's noisy pass (noise: (len(order), sum n_l) standard
    normal). Gs[l] = g_l, Ds[l] = d_l (hidden), err = e, dbp = scratch for backprop's d of the
    top hidden layer, whose angle with the rule's d is written to angles[t] when record_angle.
    Returns (t, layer) of the first non-finite summed input, or (-1, -1).
    """
    L = len(WTs)
    n_out = Y.shape[1]
    for t in range(order.size):
        x = X[order[t]]
        y = Y[order[t]]
        bad = _forward(WTs, bs, scales, x, Hs, hidden_code, out_code, noise, t, sigma, False)
        if bad >= 0:
            return t, bad
        top = Hs[L - 1]
        for k in range(n_out):
            err[k] = y[k] - top[k]
        if rule == NODE_PERTURBATION:
            bad = _forward(WTs, bs, scales, x, Hps, hidden_code, out_code, noise, t, sigma, True)
            if bad >= 0:
                return t, bad
            clean = 0.0
            noisy = 0.0
            noisy_top = Hps[L - 1]
            for k in range(n_out):
                clean += 0.5 * err[k] * err[k]
                dn = y[k] - noisy_top[k]
                noisy += 0.5 * dn * dn
            c = np.float32(-(noisy - clean) / sigma)
            offset = 0
            for l in range(L):
                g = Gs[l]
                for i in range(g.size):
                    g[i] = c * noise[t, offset + i]
                offset += g.size
        else:
            g = Gs[L - 1]
            for k in range(n_out):
                g[k] = err[k] * _dact(out_code, top[k])
            if rule != SHALLOW:
                for l in range(L - 2, -1, -1):
                    d = Ds[l]
                    if rule == BP:
                        _matvec_rows(WTs[l + 1], Gs[l + 1], d)
                        s = np.float32(scales[l + 1])
                        for i in range(d.size):
                            d[i] *= s
                    elif rule == FA:
                        _matvec_rows(Bs[l], err if l == L - 2 else Ds[l + 1], d)
                    elif rule == FA_FPRIME:
                        _matvec_rows(Bs[l], Gs[l + 1], d)
                    else:
                        _matvec_rows(Bs[l], err, d)
                    h = Hs[l]
                    gl = Gs[l]
                    for i in range(d.size):
                        gl[i] = d[i] * _dact(hidden_code, h[i])
        if record_angle:
            if rule == BP:
                angles[t] = 0.0
            elif L >= 2:
                _matvec_rows(WTs[L - 1], Gs[L - 1], dbp)
                if rule == NODE_PERTURBATION or rule == SHALLOW:
                    angles[t] = np.nan
                else:
                    angles[t] = _angle(Ds[L - 2], dbp)
        # updates, after every teaching signal was computed from the same (pre-update) weights
        for l in range(L):
            if learns[l] == 0 or (rule == SHALLOW and l < L - 1):
                continue
            WT = WTs[l]
            n_in, n_o = WT.shape
            inp = x if l == 0 else Hs[l - 1]
            g = Gs[l]
            new_scale = scales[l] * (1.0 - eta * decay)
            c = np.float32(eta / new_scale)
            if use_mask:
                MT = MTs[l]
                for j in range(n_in):
                    v = inp[j]
                    if v != 0.0:
                        cv = c * v
                        for i in range(n_o):
                            WT[j, i] += cv * g[i] * MT[j, i]
            else:
                for j in range(n_in):
                    v = inp[j]
                    if v != 0.0:
                        cv = c * v
                        for i in range(n_o):
                            WT[j, i] += cv * g[i]
            scales[l] = new_scale
            b = bs[l]
            e32 = np.float32(eta)
            for i in range(n_o):
                b[i] += e32 * g[i]
    return -1, -1


@njit(cache=True, fastmath=_FASTMATH)
def fold_scales(WTs, scales):
    """Multiply each layer's lazy decay scale into its weights and reset it to 1."""
    for l in range(len(WTs)):
        s = scales[l]
        if s != 1.0:
            WT = WTs[l]
            s32 = np.float32(s)
            for j in range(WT.shape[0]):
                row = WT[j]
                for i in range(WT.shape[1]):
                    row[i] *= s32
            scales[l] = 1.0
