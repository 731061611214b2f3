"""Metrics of MODEL.md: NSE, classification error, and the angles that show alignment.

Angles are in degrees; matrices are flattened. A zero vector has no direction: its angle is NaN.
"""

from __future__ import annotations

import numpy as np

from .network import RateNet
from .rules import teaching_signals


def nse(Y_target: np.ndarray, Y_pred: np.ndarray) -> float:
    """Normalised squared error: SSE over the batch / SSE of the batch-mean predictor."""
    Y_target = np.asarray(Y_target, np.float64)
    Y_pred = np.asarray(Y_pred, np.float64)
    denom = np.sum((Y_target - Y_target.mean(axis=0)) ** 2)
    return float(np.sum((Y_target - Y_pred) ** 2) / denom)


def classification_error(net: RateNet, X: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples whose most active output unit is not the label."""
    return float(np.mean(np.argmax(net.predict(X), axis=1) != np.asarray(labels)))


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """arccos(a.b / (|a||b|)) in degrees, on the flattened arrays."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


def angles_rows(A: np.ndarray, Bm: np.ndarray) -> np.ndarray:
    """Angle between row k of A and row k of Bm for every k."""
    A = np.asarray(A, np.float64)
    Bm = np.asarray(Bm, np.float64)
    num = np.sum(A * Bm, axis=1)
    den = np.linalg.norm(A, axis=1) * np.linalg.norm(Bm, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(num / den, -1.0, 1.0)))


def angle_W_BT(net: RateNet, layer: int = -1) -> float:
    """angle(W_{l+1}, B_l^T) for hidden layer l (default: the top hidden layer)."""
    l = layer % (net.n_layers - 1)
    return angle(net.W[l + 1], net.B[l].T)


def angle_units(net: RateNet, layer: int = -1) -> np.ndarray:
    """Per hidden unit j of layer l: column j of W_{l+1} (its outgoing weights) vs row j of B_l."""
    l = layer % (net.n_layers - 1)
    return angles_rows(net.W[l + 1].T, net.B[l])


def angle_W_pinvB(net: RateNet, layer: int = -1) -> float:
    """angle(W_{l+1}, pinv(B_l)) (Supplementary Notes 13-14)."""
    l = layer % (net.n_layers - 1)
    return angle(net.W[l + 1], np.linalg.pinv(np.asarray(net.B[l], np.float64)))


def delta_angles(net: RateNet, X: np.ndarray, Y: np.ndarray, rule: str = "fa") -> np.ndarray:
    """Per example: angle between the rule's d and backprop's d at the top hidden layer, same state.

    The numpy reference of the angles the kernel records during training (Fig. 2b, 3b).
    """
    hs = net.forward(X)
    E = np.asarray(Y, net.dtype) - hs[-1]
    d_rule, _ = teaching_signals(net, hs, E, rule)
    d_bp, _ = teaching_signals(net, hs, E, "bp")
    top = net.n_layers - 2
    return angles_rows(d_rule[top], d_bp[top])


def sliding_stats(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over a trailing window (shorter at the start), NaN-aware."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    x = np.where(ok, v, 0.0)
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    cn = np.concatenate([[0], np.cumsum(ok)])
    hi = np.arange(1, v.size + 1)
    lo = np.maximum(0, hi - window)
    n = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[hi] - c1[lo]) / n
        var = np.maximum((c2[hi] - c2[lo]) / n - mean * mean, 0.0)
    return mean, np.sqrt(var)
