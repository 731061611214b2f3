"""Checkpoints: the whole state of a SpikingNetwork in one HDF5 file, written atomically.

A checkpoint holds the parameters, every weight array exactly as stored (WT and its pending
decay ``scale``, so a resumed run rounds exactly like one never stopped), b, B, masks, the
training streams' V, U, P, Mod and spikes, the step counter, the position in the data stream
(``images_seen``) and the learning rate now (``net.eta``), plus a JSON ``extra`` dict for the
caller (e.g. an experiment's progress).
It is written to ``PATH.tmp`` and renamed over PATH, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os

import h5py

from ..errors import DataError, OutputError
from .network import SpikingNetwork
from .params import SpikingParams

FORMAT = "spikefa-spiking-checkpoint/1"


def save_checkpoint(net: SpikingNetwork, path: str, extra: dict | None = None) -> str:
    w, st = net.weights, net.state
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["params"] = json.dumps(net.params.as_dict(), sort_keys=True)
            h5.attrs["step"] = net.step
            h5.attrs["images_seen"] = net.images_seen
            h5.attrs["eta"] = net.eta       # the learning rate now, which a schedule may have lowered
            h5.attrs["seed"] = net.params.seed
            h5.attrs["extra"] = json.dumps(extra or {}, sort_keys=True)
            h5["scale"] = w.scale
            h5["learns"] = w.learns
            for h in range(len(w.WT)):
                g = h5.create_group(f"layer{h + 1}")
                g["WT"] = w.WT[h]
                g["b"] = w.b[h]
                if h < len(w.B) and w.B[h] is not None:
                    g["B"] = w.B[h]
                if w.maskT[h] is not None:
                    g["maskT"] = w.maskT[h]
            g = h5.create_group("streams")
            for name, group in zip(("s", "V", "P", "U", "Mod", "A", "D"), st.groups()):
                for i, a in enumerate(group):
                    g[f"{name}{i}"] = a
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OutputError(f"{path}: writing the checkpoint failed ({exc}); free disk space or choose "
                          f"another output folder") from None
    return path


def load_checkpoint(path: str, backend: str | None = None) -> tuple[SpikingNetwork, dict]:
    """The network saved in ``path`` (on ``backend`` if given) and the ``extra`` dict saved with it."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: checkpoint not found; give the .ckpt.h5 file written by an earlier run")
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("format") != FORMAT:
                raise DataError(f"{path}: not a spiking-network checkpoint (format "
                                f"{h5.attrs.get('format')!r}); give a .ckpt.h5 file written by spikefa")
            kw = json.loads(h5.attrs["params"])
            if backend is not None:
                kw["backend"] = backend
            net = SpikingNetwork(SpikingParams(**kw))
            w, st = net.weights, net.state
            w.scale[:] = h5["scale"][()]
            w.learns[:] = h5["learns"][()]
            for h in range(len(w.WT)):
                g = h5[f"layer{h + 1}"]
                w.WT[h][...] = g["WT"][()]
                w.b[h][...] = g["b"][()]
                if h < len(w.B) and w.B[h] is not None:
                    w.B[h][...] = g["B"][()]
                if w.maskT[h] is not None:
                    w.maskT[h][...] = g["maskT"][()]
            g = h5["streams"]
            for name, group in zip(("s", "V", "P", "U", "Mod", "A", "D"), st.groups()):
                for i, a in enumerate(group):
                    a[...] = g[f"{name}{i}"][()]
            net.step = int(h5.attrs["step"])
            net.images_seen = int(h5.attrs["images_seen"])
            net.eta = float(h5.attrs.get("eta", net.params.eta))   # older checkpoints: params.eta
            extra = json.loads(h5.attrs["extra"])
    except (OSError, KeyError) as exc:
        raise DataError(f"{path}: checkpoint unreadable or incomplete ({exc}); use another checkpoint") from None
    return net, extra


def checkpoint_params(path: str) -> dict:
    """The parameters stored in a checkpoint, without loading its arrays."""
    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs["params"])
