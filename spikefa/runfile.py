"""One HDF5 file per run: parameters, metrics over training, final results and recordings.

Layout (every run):
  /                 attrs: spikefa_version, experiment, title, model_source, params (JSON),
                           created, status (running | finished | interrupted | failed | diverged),
                           message (why it stopped, when not finished)
  /params           attrs: every resolved parameter, flattened ("train.eta" -> value)
  /metrics/NAME     resizable datasets appended during training (first axis = sample)
  /results/NAME     arrays written once (final figures, tables)
  /summary          attrs: the numbers printed in the terminal summary table
Recorders (spikefa.record) add /recordings; see docs/hdf5-layout.md.
"""

from __future__ import annotations

import datetime as _dt
import json
import os

import h5py
import numpy as np

from . import __version__
from .config import Model, flatten
from .errors import OutputError


def check_writable(path: str) -> None:
    """Raise OutputError now, before any work, if ``path`` cannot be created."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: output folder {folder} does not exist; create it or choose another --out")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: output folder {folder} is not writable; choose another --out")
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name ending in .h5 for --out")


def _attr_value(v):
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, str) for x in v):
            return np.array(v, dtype=h5py.string_dtype())
        if not v:
            return np.zeros(0)
        return np.asarray(v)
    if isinstance(v, dict):
        return json.dumps(v)
    return v


class RunFile:
    """Writes a run's HDF5 file. Opened by the runner; experiments only append and put."""

    def __init__(self, path: str, model: Model | None = None, mode: str = "w"):
        check_writable(path)
        self.path = path
        try:
            self.h5 = h5py.File(path, mode, libver="latest")
        except OSError as exc:
            raise OutputError(f"{path}: cannot open for writing ({exc}); choose another --out") from None
        if mode in ("w", "w-", "x") and model is not None:
            self._write_header(model)

    def _write_header(self, model: Model):
        a = self.h5.attrs
        a["spikefa_version"] = __version__
        a["experiment"] = model.experiment
        a["title"] = model.title
        a["model_source"] = str(model.source)
        a["params"] = json.dumps(model.params, sort_keys=True)
        a["created"] = _dt.datetime.now().isoformat(timespec="seconds")
        a["status"] = "running"
        g = self.h5.require_group("params")
        for k, v in flatten(model.params).items():
            g.attrs[k] = _attr_value(v)
        self.h5.require_group("metrics")
        self.h5.require_group("results")
        self.h5.require_group("summary")
        self.flush()

    # -- writing -------------------------------------------------------------------------------
    def _guard(self, fn, what):
        try:
            return fn()
        except (OSError, ValueError) as exc:
            raise OutputError(f"{self.path}: writing {what} failed ({exc}); free disk space or "
                              f"choose another --out (everything written before is kept)") from None

    def append(self, name: str, value, attrs: dict | None = None) -> None:
        """Append one sample (scalar or array) to /metrics/NAME, creating it on first use."""
        value = np.asarray(value)
        path = "metrics/" + name

        def do():
            if path not in self.h5:
                dtype = np.float64 if value.dtype.kind == "f" else value.dtype
                ds = self.h5.create_dataset(path, shape=(0,) + value.shape, maxshape=(None,) + value.shape,
                                            dtype=dtype, chunks=(max(1, 4096 // max(1, value.size)),) + value.shape)
                for k, v in (attrs or {}).items():
                    ds.attrs[k] = _attr_value(v)
            ds = self.h5[path]
            n = ds.shape[0]
            ds.resize(n + 1, axis=0)
            ds[n] = value
        self._guard(do, path)

    def put(self, name: str, array, attrs: dict | None = None, compress: bool = False) -> None:
        """Write /results/NAME once (replacing an earlier value)."""
        path = "results/" + name

        def do():
            if path in self.h5:
                del self.h5[path]
            arr = np.asarray(array)
            kw = {"compression": "gzip", "compression_opts": 4} if compress and arr.size > 1024 else {}
            if arr.dtype.kind == "U":
                arr = arr.astype(h5py.string_dtype())
            ds = self.h5.create_dataset(path, data=arr, **kw)
            for k, v in (attrs or {}).items():
                ds.attrs[k] = _attr_value(v)
        self._guard(do, path)

    def set_summary(self, **values) -> None:
        def do():
            for k, v in values.items():
                self.h5["summary"].attrs[k] = _attr_value(v)
        self._guard(do, "summary")

    def set_status(self, status: str, message: str = "") -> None:
        self.h5.attrs["status"] = status
        self.h5.attrs["message"] = message

    def flush(self) -> None:
        self._guard(self.h5.flush, "flush")

    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_summary(path: str) -> dict:
    with h5py.File(path, "r") as h5:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5["summary"].attrs.items()}


def read_params(path: str) -> dict:
    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs["params"])
