"""The whole state of a network as a dict (``SpikingNetwork.state_dict``) and back (``load_state_dict``).

Keys: ``step``, ``images_seen``, ``eta`` (numbers); ``scale``, ``learns``; per layer h = 1..L
``layer{h}/WT``, ``layer{h}/b`` and, where the network has them, ``layer{h}/B`` and
``layer{h}/maskT``; the training streams' ``streams/{s,V,P,U,Mod,A,D}{i}`` (the checkpoint's layout).
"""

from __future__ import annotations

import numpy as np

STATE_SCALARS = ("step", "images_seen", "eta")      # state_dict's numbers; the rest are arrays
STREAM_ARRAYS = ("s", "V", "P", "U", "Mod", "A", "D")   # StreamState.groups(), as state_dict names them


def state_arrays(weights, state) -> dict:
    """The live arrays of the weights and the streams' state, keyed as in ``state_dict`` (no copies)."""
    w = weights
    arrays = {"scale": w.scale, "learns": w.learns}
    for h in range(len(w.WT)):
        arrays[f"layer{h + 1}/WT"] = w.WT[h]
        arrays[f"layer{h + 1}/b"] = w.b[h]
        if h < len(w.B) and w.B[h] is not None:
            arrays[f"layer{h + 1}/B"] = w.B[h]
        if w.maskT[h] is not None:
            arrays[f"layer{h + 1}/maskT"] = w.maskT[h]
    for name, group in zip(STREAM_ARRAYS, state.groups()):
        for i, a in enumerate(group):
            arrays[f"streams/{name}{i}"] = a
    return arrays


def take(net) -> dict:
    """Copies of everything ``net`` goes on from (SpikingNetwork.state_dict)."""
    if net.phase != "idle":
        raise RuntimeError("state_dict() while the network trains; take it between train calls")
    state = {"step": int(net.step), "images_seen": int(net.images_seen), "eta": float(net.eta)}
    state.update({key: np.array(a, copy=True) for key, a in state_arrays(net.weights, net.state).items()})
    return state


def restore(net, state: dict) -> None:
    """Write ``state`` into ``net`` in place, after checking all of it (SpikingNetwork.load_state_dict)."""
    if net.phase != "idle":
        raise RuntimeError("load_state_dict() while the network trains; load between train calls")
    arrays = state_arrays(net.weights, net.state)
    missing = [k for k in (*STATE_SCALARS, *arrays) if k not in state]
    unknown = [k for k in state if k not in arrays and k not in STATE_SCALARS]
    if missing or unknown:
        raise ValueError("state does not fit this network: "
                         + "; ".join(f"{what} {', '.join(keys)}" for what, keys in
                                     (("missing", missing), ("unknown", unknown)) if keys))
    values = {}
    for key, a in arrays.items():
        value = np.asarray(state[key])
        if value.shape != a.shape or not np.can_cast(value.dtype, a.dtype, "same_kind"):
            raise ValueError(f"state {key!r} is {value.dtype} {value.shape}; this network's is "
                             f"{a.dtype} {a.shape}")
        values[key] = value
    eta = float(state["eta"])
    if not (eta >= 0 and np.isfinite(eta)):
        raise ValueError(f"state eta = {eta!r}: expected a finite number >= 0")
    for key, a in arrays.items():
        np.copyto(a, values[key], casting="same_kind")       # in place: backends hold these arrays
    net.backend.weights_changed()
    net.step, net.images_seen = int(state["step"]), int(state["images_seen"])
    net.eta = eta
