"""Checkpoints: the whole state of a SpikingNetwork in one HDF5 file, written atomically.

A checkpoint holds the parameters and ``SpikingNetwork.state_dict()``, each array at its key's path
and the numbers as attributes: every weight array exactly as stored (WT and its pending decay
``scale``, so a resumed run rounds exactly like one never stopped), b, B, masks, the training
streams' V, U, P, Mod and spikes, the step counter, the position in the data stream
(``images_seen``) and the learning rate now (``net.eta``), plus a JSON ``extra`` dict for the
caller (e.g. an experiment's progress).
It is written to ``PATH.tmp``, synced, and renamed over PATH, so a crash never leaves half a
checkpoint and a failed write (a full disk) keeps the previous one.

Format 2 adds ``checksum``: SHA-256 over every array (name, dtype, shape, bytes) and the
attributes that place the network in its run, so a checkpoint edited by hand is refused with one
line instead of resuming a different run; and it starts with a 512-byte user block (which HDF5
skips) holding the SHA-256 of every byte after it. That one is checked before HDF5 reads the file:
HDF5 can loop forever on a damaged file (a flipped bit in an attribute did), so a damaged
checkpoint must be refused before it is parsed. Format 1 checkpoints (no checksums) still load.
Whatever a file holds, loading it raises DataError, never another exception.
"""

from __future__ import annotations

import hashlib
import json
import os

import h5py
import numpy as np

from .. import diskroom
from ..errors import DataError, OutputError, one_line
from .network import STATE_SCALARS, SpikingNetwork
from .params import LEGACY_NAMES, SpikingParams

FORMAT_NAME = "spikefa-spiking-checkpoint"
VERSION = 2
FORMAT = f"{FORMAT_NAME}/{VERSION}"
READABLE = (f"{FORMAT_NAME}/1", FORMAT)
USERBLOCK = 512
_FILE_SUM = b"spikefa-checkpoint sha256:"
_SUMMED_ATTRS = ("format", "params", "step", "images_seen", "eta", "seed", "extra")


def checksum(h5) -> str:
    """SHA-256 of a checkpoint's arrays and placing attributes, in a fixed order."""
    digest = hashlib.sha256()
    for key in _SUMMED_ATTRS:
        if key in h5.attrs:
            digest.update(f"{key}={h5.attrs[key]!r};".encode())
    names = []
    h5.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    for name in sorted(names):
        a = np.ascontiguousarray(h5[name][()])
        digest.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        digest.update(a.tobytes())
    return "sha256:" + digest.hexdigest()


def _file_digest(fh) -> str:
    digest = hashlib.sha256()
    fh.seek(USERBLOCK)
    for block in iter(lambda: fh.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _check_file_sum(path: str) -> None:
    """Before HDF5 parses a format-2 checkpoint: every byte is as written."""
    with open(path, "rb") as fh:
        head = fh.read(USERBLOCK)
        if head[:8] == b"\x89HDF\r\n\x1a\n":
            return              # format 1, or not a checkpoint: HDF5 and the format check decide
        if not head.startswith(_FILE_SUM):
            raise DataError(f"{path}: not a spiking-network checkpoint (neither spikefa's header nor HDF5's); "
                            f"give a .ckpt.h5 file written by spikefa")
        stored = head[len(_FILE_SUM):].split(b"\n", 1)[0].decode("ascii", "replace")
        if stored != _file_digest(fh):
            raise DataError(f"{path}: checkpoint damaged (its checksum does not match its contents); use an "
                            f"earlier checkpoint or start the run again")


def checkpoint_bytes(state: dict) -> int:
    """Room a checkpoint of ``state`` (``SpikingNetwork.state_dict()``) takes, with a margin."""
    return int(sum(a.nbytes for a in state.values() if isinstance(a, np.ndarray))) + (64 << 10)


def save_checkpoint(net: SpikingNetwork, path: str, extra: dict | None = None) -> str:
    state = net.state_dict()
    tmp = path + ".tmp"
    diskroom.check(tmp, checkpoint_bytes(state), "the checkpoint", kept="the previous checkpoint is kept")
    try:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK) as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["params"] = json.dumps(net.params.as_dict(), sort_keys=True)
            h5.attrs["step"] = state["step"]
            h5.attrs["images_seen"] = state["images_seen"]
            h5.attrs["eta"] = state["eta"]      # the learning rate now, which a schedule may have lowered
            h5.attrs["seed"] = net.params.seed
            h5.attrs["extra"] = json.dumps(extra or {}, sort_keys=True)
            for key, value in state.items():    # the arrays, each at its key's path (layer1/WT, streams/V0 ...)
                if key not in STATE_SCALARS:
                    folder, _, name = key.rpartition("/")
                    (h5.require_group(folder) if folder else h5)[name] = value
            h5.attrs["checksum"] = checksum(h5)
        with open(tmp, "r+b") as fh:
            head = _FILE_SUM + _file_digest(fh).encode() + b"\n"
            fh.seek(0)
            fh.write(head.ljust(USERBLOCK, b"\0"))
            fh.flush()
            os.fsync(fh.fileno())            # on disk before it replaces the previous checkpoint
        os.replace(tmp, path)
    except (OSError, RuntimeError, ValueError) as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OutputError(f"{path}: writing the checkpoint failed ({one_line(exc)}); the previous checkpoint "
                          f"is kept; free disk space or choose another output folder") from None
    return path


def load_checkpoint(path: str, backend: str | None = None) -> tuple[SpikingNetwork, dict]:
    """The network saved in ``path`` (on ``backend`` if given) and the ``extra`` dict saved with it."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: checkpoint not found; give the .ckpt.h5 file written by an earlier run")
    try:
        _check_file_sum(path)
        with h5py.File(path, "r", locking=False) as h5:
            _check_format(path, h5)
            kw = json.loads(h5.attrs["params"])
            if backend is not None:
                kw["backend"] = backend
            net = SpikingNetwork(SpikingParams.from_stored(kw))
            state = {"step": int(h5.attrs["step"]), "images_seen": int(h5.attrs["images_seen"]),
                     "eta": float(h5.attrs.get("eta", net.params.eta))}     # older checkpoints: params.eta
            state.update({key: h5[key][()] for key in net.state_dict() if key not in STATE_SCALARS})
            net.load_state_dict(state)
            extra = json.loads(h5.attrs["extra"])
    except DataError:
        raise
    except Exception as exc:     # a foreign or edited file can break any step: one line, never a traceback
        raise DataError(f"{path}: checkpoint unreadable or incomplete ({type(exc).__name__}: {one_line(exc)}); "
                        f"use another checkpoint") from None
    return net, extra


def _check_format(path: str, h5) -> None:
    fmt = h5.attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if "experiment" in h5.attrs and "status" in h5.attrs:
        raise DataError(f"{path}: is a run file, not a checkpoint; pass its checkpoint RUN.ckpt.h5")
    if not isinstance(fmt, str) or not fmt.startswith(FORMAT_NAME + "/"):
        raise DataError(f"{path}: not a spiking-network checkpoint (no format {FORMAT_NAME}); give a .ckpt.h5 "
                        f"file written by spikefa")
    if fmt not in READABLE:
        raise DataError(f"{path}: checkpoint format {fmt!r} is not one this spikefa reads ({', '.join(READABLE)}); "
                        f"resume with the spikefa version that wrote it")
    if fmt != READABLE[0]:
        stored = h5.attrs.get("checksum")
        stored = stored.decode() if isinstance(stored, bytes) else stored
        if stored is None or stored != checksum(h5):
            raise DataError(f"{path}: checkpoint damaged (its checksum does not match its contents); use an "
                            f"earlier checkpoint or start the run again")


def checkpoint_params(path: str) -> dict:
    """The parameters stored in a checkpoint, without loading its arrays."""
    try:
        _check_file_sum(path)
        with h5py.File(path, "r", locking=False) as h5:
            stored = json.loads(h5.attrs["params"])
            return {LEGACY_NAMES.get(k, k): v for k, v in stored.items()}     # older checkpoints' names too
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: checkpoint unreadable ({type(exc).__name__}: {one_line(exc)})") from None
