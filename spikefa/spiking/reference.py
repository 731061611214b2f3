"""The numpy reference: one time step of the network, written to be read (the specification in code).

One time step t of S streams (every array has the streams on its first axis; sigma = logistic,
phi = phi_d, tanh by default; all arithmetic float32):

1. input spikes   s_0 = [u < min(x, 0.95)]
2. for l = 1..L   V_l <- V_l + tau (W_l s_{l-1} + b_l - V_l)
                  P_l  = sigma(V_l);  s_l = [u < P_l]
3. error neurons  U_L <- U_L + tau (y* - P_L - U_L)          y*_k = 1 on the units of the label's class
4. for l = L-1..1 U_l <- U_l + tau (F_l - U_l)   with F_l = B_l phi(U_{l+1})  (fa)
                                                      F_l = W_{l+1}^T phi(U_{l+1}) (bp, W before step 5)
                                                      F_l = B_l phi(U_L)       (direct)
                  (feedback "none": hidden U_l stay 0 and hidden layers do not learn)
5. plasticity, each layer that learns, streams summed:
                  D_l = phi(U_l) * P_l (1 - P_l)
                  W_l <- W_l - gamma W_l + eta sum_k D_l[k] s_{l-1}[k]^T   (times the sparse mask)
                  b_l <- b_l - gamma b_l + eta sum_k D_l[k]
                  (W is stored as scale * WT^T with a float64 scale that takes the decay; the
                  biases decay in float32, where a gamma below 6e-8 rounds away, in every backend)
Steps 3-5 run only while learning: with plasticity off (testing) the feedback path affects
nothing, so it is not computed and U keeps its value.
Votes (run_steps): after each step, counts[class] of each stream's image gains the sum over the
class's output units of its spikes s_L (readout "spikes"), of sigma(V_L) (readout "rate": the
expected spike count) or of V_L (readout "psp"). With ``fresh`` (testing without carry), V and U of
every layer are set to 0 before the first step of each image.
The uniform u of unit i of layer l in stream k is rng.uniform(seed, t, layer_key(l, k, purpose), i)
(purpose 0 while training, 1 while testing). In rate mode every sample [u < p] is replaced by p.
The step counter t advances by one after each step.
"""

from __future__ import annotations

import numpy as np

from ..rng import layer_key, uniform
from .params import SpikingParams
from .state import F32, StreamState, Weights

INPUT_CAP = F32(0.95)


def sigmoid(v: np.ndarray) -> np.ndarray:
    return F32(1) / (F32(1) + np.exp(-v))


def phi(u: np.ndarray, kind: str) -> np.ndarray:
    return np.tanh(u) if kind == "tanh" else u


def sample(p: np.ndarray, out: np.ndarray, params: SpikingParams, t: int, layer: int, purpose: int) -> None:
    """out <- Bernoulli(p) per stream (or p itself in rate mode)."""
    if params.mode == "rate":
        out[...] = p
        return
    units = np.arange(p.shape[1])
    for k in range(p.shape[0]):
        u = uniform(params.seed, t, layer_key(layer, k, purpose), units)
        out[k] = (u < p[k]).astype(F32)


def step(params: SpikingParams, w: Weights, st: StreamState, x: np.ndarray, labels: np.ndarray,
         t: int, learn: bool, purpose: int = 0, eta: float | None = None) -> None:
    """Advance ``st`` (and, when learning, ``w``) by one time step; x is (S, n_0) in [0, 1].
    ``eta``: the learning rate now (default params.eta; a schedule may have lowered it)."""
    L, tau = len(w.WT), F32(params.tau)
    eta64 = float(params.eta if eta is None else eta)
    sample(np.minimum(x, INPUT_CAP), st.s[0], params, t, 0, purpose)
    for h in range(L):
        W = F32(w.scale[h]) * w.WT[h].T
        st.A[h][...] = st.s[h] @ W.T
        st.V[h] += tau * (st.A[h] + w.b[h] - st.V[h])
        st.P[h][...] = sigmoid(st.V[h])
        sample(st.P[h], st.s[h + 1], params, t, h + 1, purpose)

    if not learn:  # the feedback path only drives plasticity: with plasticity off it changes nothing
        return
    target = np.zeros_like(st.P[L - 1])
    g = params.units_per_class
    for k, c in enumerate(labels):
        target[k, c * g:(c + 1) * g] = 1
    st.U[L - 1] += tau * (target - st.P[L - 1] - st.U[L - 1])
    st.Mod[L - 1][...] = phi(st.U[L - 1], params.phi)
    for h in range(L - 2, -1, -1):
        if params.feedback == "none":
            continue
        if params.feedback == "fa":
            F = st.Mod[h + 1] @ w.B[h].T
        elif params.feedback == "direct":
            F = st.Mod[L - 1] @ w.B[h].T
        else:  # bp: the transpose of the forward weights above
            F = st.Mod[h + 1] @ (F32(w.scale[h + 1]) * w.WT[h + 1].T)
        st.U[h] += tau * (F - st.U[h])
        st.Mod[h][...] = phi(st.U[h], params.phi)

    eta, gamma = F32(eta64), F32(params.gamma)
    for h in range(L):
        if not w.learns[h]:
            continue
        st.D[h][...] = st.Mod[h] * st.P[h] * (F32(1) - st.P[h])
        dWT = st.s[h].T @ st.D[h]                      # sum over streams of s D^T, stored transposed
        if w.maskT[h] is not None:
            dWT *= w.maskT[h]
        # decay multiplies the float64 scale of the stored weights, so that W <- (1 - gamma) W holds
        # exactly even for a gamma below float32 resolution (the paper's 1e-8)
        w.scale[h] *= 1.0 - float(params.gamma)
        w.WT[h] += F32(eta64 / w.scale[h]) * dWT
        w.b[h] += eta * st.D[h].sum(axis=0) - gamma * w.b[h]


def run_steps(params: SpikingParams, w: Weights, st: StreamState, X, order, labels, counts,
              seq0: int, n_steps: int, steps_per_image: int, t0: int, learn: bool, purpose: int,
              readout: int = 0, fresh: bool = False, eta: float | None = None) -> None:
    """Steps seq0 .. seq0+n_steps-1 of a sequence of images, ``steps_per_image`` steps each.

    Image i of the sequence is X[order[i, k]] in stream k with label labels[i, k]; the output
    spikes (readout 0), sigma(V_L) (1) or V_L (2) of each class group are added to
    counts[i, k, class]. With ``fresh``, V and U start from 0 at each image's first step. The step
    counter of step q is t0 + q - seq0.
    """
    g, n_classes, L = params.units_per_class, counts.shape[2], len(w.WT)
    for q in range(seq0, seq0 + n_steps):
        i = q // steps_per_image
        if fresh and q % steps_per_image == 0:
            for h in range(L):
                st.V[h][...] = 0
                st.U[h][...] = 0
        step(params, w, st, X[order[i]], labels[i], t0 + q - seq0, learn, purpose, eta)
        votes = (st.s[-1], st.P[L - 1], st.V[L - 1])[readout]
        counts[i] += votes.reshape(-1, n_classes, g).sum(axis=2)
