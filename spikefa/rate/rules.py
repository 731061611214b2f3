"""The learning rules in numpy: the specification the Numba kernels are checked against.

Every rule changes W_l by  eta * g_l h_{l-1}^T  (averaged over a mini-batch), with
g_l = d_l * f'(a_l) and d_L = e = y* - y at the output. The rules differ in d_l of a hidden layer
(MODEL.md):

  bp                backprop          d_l = W_{l+1}^T g_{l+1}
  fa                feedback align.   d_l = B_l d_{l+1}       (the paper's rule: no f' on the way down)
  fa_fprime         FA, common form   d_l = B_l g_{l+1}
  dfa               direct FA         d_l = B_l e
  shallow           output layer only
  node_perturbation g_l = -(L(perturbed) - L(clean)) xi_l / sigma: Gaussian noise sigma*xi_l added to
                    the summed input a_l of every unit, the change in the loss 1/2 |e|^2 correlated
                    with it (an unbiased estimate of -dL/da_l)

Weight decay: W <- W - eta*alpha*W at each update (biases are not decayed: MODEL.md decays W only
in the rate networks), kept in a float64 scale so that it is not lost to float32 rounding. Masked elements of W
stay at zero. Frozen layers do not change at all.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .network import RateNet, activate, derivative

RULES = ("bp", "fa", "fa_fprime", "dfa", "shallow", "node_perturbation")
RULE_CODE = {name: i for i, name in enumerate(RULES)}


def check_rule(rule: str, net: RateNet | None = None) -> None:
    if rule not in RULES:
        raise ConfigError(f"learning rule {rule!r} unknown; expected one of {', '.join(RULES)}")
    if net is not None and (rule == "dfa") != net.direct_feedback and rule in ("dfa", "fa", "fa_fprime"):
        need = "direct_feedback=True" if rule == "dfa" else "direct_feedback=False"
        raise ConfigError(f"rule {rule!r} needs a network built with {need}")


def loss(net: RateNet, X, Y) -> float:
    """Mean over the batch of 1/2 |y* - y|^2."""
    E = np.asarray(Y) - net.forward(X)[-1]
    return float(0.5 * np.sum(E * E) / E.shape[0])


def teaching_signals(net: RateNet, hs: list[np.ndarray], E: np.ndarray, rule: str):
    """(d, g): d[l] for each hidden layer l, g[l] = d_l * f'(a_l) for every layer; batch rows.

    ``hs`` are the activities of a clean forward pass, ``E`` the output error y* - y.
    """
    L = net.n_layers
    g: list[np.ndarray | None] = [None] * L
    d: list[np.ndarray | None] = [None] * (L - 1)
    g[L - 1] = E * derivative(net.output, hs[L])
    if rule == "shallow":
        return d, g
    for l in range(L - 2, -1, -1):
        if rule == "bp":
            d[l] = g[l + 1] @ net.W[l + 1]
        elif rule == "fa":
            d[l] = (E if l == L - 2 else d[l + 1]) @ net.B[l].T
        elif rule == "fa_fprime":
            d[l] = g[l + 1] @ net.B[l].T
        elif rule == "dfa":
            d[l] = E @ net.B[l].T
        else:
            raise ConfigError(f"rule {rule!r} has no teaching signal; use node_perturbation_signals")
        g[l] = d[l] * derivative(net.hidden, hs[l + 1])
    return d, g


def perturbed_forward(net: RateNet, X, noise: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Activities with sigma*noise[l] added to the summed input of layer l+1."""
    hs = [np.asarray(X, dtype=net.dtype)]
    for l in range(net.n_layers):
        a = hs[-1] @ net.W[l].T + net.b[l] + sigma * noise[l]
        hs.append(activate(net.layer_kind(l), a))
    return hs


def node_perturbation_signals(net: RateNet, hs, X, Y, noise: list[np.ndarray], sigma: float):
    """g[l] for every layer: -(loss_perturbed - loss_clean) * noise[l] / sigma, per example."""
    Y = np.asarray(Y, dtype=net.dtype)
    clean = 0.5 * np.sum((Y - hs[-1]) ** 2, axis=1)
    noisy = 0.5 * np.sum((Y - perturbed_forward(net, X, noise, sigma)[-1]) ** 2, axis=1)
    scale = (-(noisy - clean) / sigma).astype(net.dtype)[:, None]
    return [scale * n for n in noise]


def split_noise(net: RateNet, noise_rows: np.ndarray) -> list[np.ndarray]:
    """Cut a (batch, sum of layer sizes 1..L) noise block into one block per layer."""
    out, start = [], 0
    for n in net.sizes[1:]:
        out.append(noise_rows[:, start:start + n])
        start += n
    return out


def descent_directions(net: RateNet, X, Y, rule: str, noise_rows=None, sigma: float = 0.0):
    """Per layer (dW, db) such that the rule's update is W += eta*dW, b += eta*db (before decay).

    For backprop, (dW, db) is minus the gradient of the batch-mean loss 1/2 |e|^2.
    """
    check_rule(rule, net)
    X = np.asarray(X, dtype=net.dtype)
    hs = net.forward(X)
    E = np.asarray(Y, dtype=net.dtype) - hs[-1]
    if rule == "node_perturbation":
        g = node_perturbation_signals(net, hs, X, Y, split_noise(net, noise_rows), sigma)
    else:
        _, g = teaching_signals(net, hs, E, rule)
    n = X.shape[0]
    out = []
    for l in range(net.n_layers):
        if g[l] is None:
            out.append(None)
        else:
            # (h^T g)^T has the layout of W (Fortran order), so the update is one contiguous pass;
            # for one example np.outer is several times faster than a k = 1 matrix product
            if n == 1:
                dW = np.outer(hs[l][0], g[l][0]).T
            else:
                dW = (hs[l].T @ g[l]).T / n
            out.append((dW, g[l].sum(axis=0) / n))
    return out


def train_step(net: RateNet, X, Y, rule: str, eta: float, decay: float = 0.0,
               noise_rows=None, sigma: float = 0.0, scales: np.ndarray | None = None) -> None:
    """One update from a batch (X, Y) (a batch of one row is a per-example update), in place.

    With ``scales`` (float64, one per layer) layer l's true weights are scales[l] * net.W[l]:
    weight decay multiplies the scale, and the update is divided by it. At the paper's MNIST
    settings one step's decay factor 1 - eta*alpha = 1 - 1e-9 rounds to 1 in float32, so a decay
    applied to float32 weights step by step would be lost; the scale keeps it (fold it back with
    ``fold_scales``). Without ``scales`` the decay is applied to the weights directly.
    """
    eager = scales is None
    if eager:
        scales = np.ones(net.n_layers)
    dt = net.dtype
    view = net if np.all(scales == 1.0) else _scaled_view(net, scales)
    directions = descent_directions(view, X, Y, rule, noise_rows, sigma)
    for l, step in enumerate(directions):
        if step is None or net.frozen[l]:
            continue
        dW, db = step
        W = net.W[l]
        scales[l] *= 1.0 - eta * decay
        dW *= dt.type(eta / scales[l])
        W += dW
        if net.W_mask is not None:
            W *= net.W_mask[l]
        net.b[l] += dt.type(eta) * db
    if eager:
        fold_scales(net, scales)


def _scaled_view(net: RateNet, scales) -> RateNet:
    """The same network with its true weights scales[l] * W[l] (a copy of W; b and B shared)."""
    import copy

    view = copy.copy(net)
    view.W = [w * net.dtype.type(s) for w, s in zip(net.W, scales)]
    return view


def fold_scales(net: RateNet, scales: np.ndarray) -> None:
    """Multiply each layer's pending decay scale into its weights and reset it to 1."""
    for l, s in enumerate(scales):
        if s != 1.0:
            net.W[l] *= net.dtype.type(s)
            scales[l] = 1.0


def train_numpy(net: RateNet, X, Y, rule: str, eta: float, decay: float = 0.0, order=None,
                batch_size: int = 1, noise=None, sigma: float = 0.0) -> None:
    """Train on the rows of X in ``order`` (default: as given), ``batch_size`` rows per update."""
    order = np.arange(X.shape[0]) if order is None else np.asarray(order)
    scales = np.ones(net.n_layers)
    for start in range(0, order.size, batch_size):
        idx = order[start:start + batch_size]
        rows = None if noise is None else noise[start:start + batch_size]
        train_step(net, X[idx], Y[idx], rule, eta, decay, rows, sigma, scales)
    fold_scales(net, scales)
