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

Live, crash-safe writing (SWMR): once every dataset that will grow during the run exists
(recordings, and metrics declared with :meth:`RunFile.declare_metric`), :meth:`RunFile.start_swmr`
switches the file to HDF5 single-writer/multiple-reader mode. From then on readers may open it
with :func:`spikefa.runfile.open_read` (an SWMR read) while it is written, and a killed run leaves
a file that opens that way with everything up to the last flush. HDF5 forbids creating objects in SWMR mode,
so appends to undeclared metrics, put(), set_summary() and set_status() are held in memory and
written when close() ends SWMR (it closes and reopens the file to write them).

One writer: a RunFile takes the run file's lock (:mod:`spikefa.runlock`) before it creates or
truncates the file, and holds it until closed. Before each flush it checks there is room for it
(:mod:`spikefa.diskroom`), so a full disk stops the run while the file is still consistent. A
write that fails anyway leaves the file as its last good flush left it: the RunFile then
abandons the file (it does not close it, which would write to it again) and readers open it as
one left by a dead writer.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import sys

import h5py
import numpy as np

from .. import __version__, diskroom
from ..config import Model, flatten
from ..errors import OutputError, one_line
from ..runlock import WriterLock

# h5py objects of files whose writes failed: kept referenced, so that neither garbage collection
# nor interpreter exit closes them (closing retries the failed writes and may crash HDF5)
_ABANDONED: list = []


EXIT_AFTER_FAILED_WRITE = 2


def abandon(*objects) -> None:
    """Keep HDF5 objects of a file whose write failed alive until the process ends, unclosed.

    HDF5 closes every open file when the interpreter exits, and closing one whose write failed
    can crash the process; so a process that abandoned a file leaves without that clean-up
    (exit code 2, the code of every error a user can act on).
    """
    if not _ABANDONED:
        atexit.register(_exit_without_hdf5_cleanup)
    _ABANDONED.extend(o for o in objects if o is not None)


def _exit_without_hdf5_cleanup():
    # atexit runs handlers last-registered first: this one runs before h5py's and HDF5's
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(EXIT_AFTER_FAILED_WRITE)


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
        try:
            arr = np.asarray(v)
        except ValueError:           # ragged
            arr = None
        if arr is None or arr.dtype == object:   # e.g. tables of [[record.recorders]]
            return json.dumps(v)
        return arr
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def create_file(path: str) -> h5py.File:
    """A new HDF5 file to write outside a RunFile (recordings given a path of their own)."""
    try:
        return h5py.File(path, "w", libver="latest")
    except OSError as exc:
        raise OutputError(f"{path}: cannot open for writing ({exc}); choose another --out") from None


class RunFile:
    """Writes a run's HDF5 file. Opened by the runner; experiments only append and put."""

    def __init__(self, path: str, model: Model | None = None, mode: str = "w"):
        check_writable(path)
        self.path = path
        # before the file is created or truncated: a live run's file is never opened by a second writer
        self.lock = WriterLock(path).acquire("overwrite" if os.path.exists(path) else "write")
        try:
            diskroom.check(path, 0, "a new run file", kept="nothing was written")
            self.h5 = h5py.File(path, mode, libver="latest")
        except OSError as exc:
            self.lock.release()
            raise OutputError(f"{path}: cannot open for writing ({one_line(exc)}); choose another --out") from None
        except BaseException:
            self.lock.release()
            raise
        self.swmr = False
        self.broken = False          # a write failed: the file is left as its last good flush left it
        self.holds_data = False      # anything computed was written (metrics, results, recordings)
        self._unflushed = 0          # bytes appended since the last flush (what the next needs room for)
        self._deferred = []          # (what, fn(h5)) writes held until SWMR ends
        self._close_hooks = []       # called first thing in close(), e.g. recorders' last block
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
        if "summary" not in self.h5:    # columns keep the order the experiment gave them
            self.h5.create_group("summary", track_order=True)
        self.flush()

    # -- writing -------------------------------------------------------------------------------
    def _guard(self, fn, what):
        if self.broken:
            raise OutputError(f"{self.path}: an earlier write failed; nothing more is written to it")
        try:
            return fn()
        except (OSError, ValueError, RuntimeError) as exc:
            self.broken = True
            raise OutputError(f"{self.path}: writing {what} failed ({one_line(exc)}); free disk space or "
                              f"choose another --out (everything up to the last flush is kept)") from None

    def _defer_or_do(self, fn, what):
        """Run ``fn(h5)`` now, or after SWMR ends when it would create objects or attributes."""
        if self.swmr:
            self._deferred.append((what, fn))
        else:
            self._guard(lambda: fn(self.h5), what)

    def declare_metric(self, name: str, shape: tuple = (), dtype=np.float64, attrs: dict | None = None) -> None:
        """Create an empty /metrics/NAME now, so that appends to it reach the file live in SWMR mode."""
        path = "metrics/" + name
        if self.swmr:
            raise OutputError(f"{self.path}: metric {name!r} declared after SWMR started; declare metrics "
                              f"before building recorders")

        def do():
            if path not in self.h5:
                self._create_metric(self.h5, path, tuple(shape), np.dtype(dtype), attrs)
        self._guard(do, path)

    @staticmethod
    def _create_metric(h5, path, shape, dtype, attrs):
        ds = h5.create_dataset(path, shape=(0,) + shape, maxshape=(None,) + shape, dtype=dtype,
                               chunks=(max(1, 4096 // max(1, int(np.prod(shape)))),) + shape)
        for k, v in (attrs or {}).items():
            ds.attrs[k] = _attr_value(v)
        return ds

    def append(self, name: str, value, attrs: dict | None = None) -> None:
        """Append one sample (scalar or array) to /metrics/NAME, creating it on first use."""
        value = np.array(value)      # a copy: a deferred append must not see later changes
        self.extend(name, value[None], attrs)

    def extend(self, name: str, values, attrs: dict | None = None) -> None:
        """Append a block of samples (first axis = sample) to /metrics/NAME in one write."""
        values = np.array(values)
        path = "metrics/" + name
        if values.ndim == 0:
            raise ValueError("extend takes a block of samples; use append for one sample")
        self.holds_data = True
        self._unflushed += values.nbytes

        def do(h5):
            if path not in h5:
                dtype = np.float64 if values.dtype.kind == "f" else values.dtype
                self._create_metric(h5, path, values.shape[1:], dtype, attrs)
            ds = h5[path]
            n = ds.shape[0]
            ds.resize(n + values.shape[0], axis=0)
            ds[n:] = values
        if self.swmr and path in self.h5:
            self._guard(lambda: do(self.h5), path)
        else:
            self._defer_or_do(do, path)

    def put(self, name: str, array, attrs: dict | None = None, compress: bool = False) -> None:
        """Write /results/NAME once (replacing an earlier value)."""
        path = "results/" + name
        arr = np.array(array)
        self.holds_data = True
        if not self.swmr:
            diskroom.check(self.path, arr.nbytes, f"result {name}")

        def do(h5):
            if path in h5:
                del h5[path]
            data = arr.astype(h5py.string_dtype()) if arr.dtype.kind == "U" else arr
            kw = {"compression": "gzip", "compression_opts": 4} if compress and data.size > 1024 else {}
            ds = h5.create_dataset(path, data=data, **kw)
            for k, v in (attrs or {}).items():
                ds.attrs[k] = _attr_value(v)
        self._defer_or_do(do, path)

    def set_summary(self, **values) -> None:
        def do(h5):
            for k, v in values.items():
                h5["summary"].attrs[k] = _attr_value(v)
        self._defer_or_do(do, "summary")

    def set_status(self, status: str, message: str = "") -> None:
        def do(h5):
            h5.attrs["status"] = status
            h5.attrs["message"] = message
        if self.swmr:
            self._deferred.append(("status", do))
        else:
            do(self.h5)

    def flush(self) -> None:
        self.check_room(self._unflushed, "the next flush")
        self._guard(self.h5.flush, "flush")
        self._unflushed = 0

    def check_room(self, need: int, what: str) -> None:
        """Stop (OutputError) before writing when the disk cannot take ``need`` more bytes."""
        diskroom.check(self.path, need, what, kept="everything up to the last flush is kept")

    # -- live writing ----------------------------------------------------------------------------
    def start_swmr(self) -> None:
        """Enter SWMR mode: every dataset that grows live must exist already (see module doc)."""
        if self.swmr:
            return
        self.flush()
        self._guard(lambda: setattr(self.h5, "swmr_mode", True), "SWMR start")
        self.swmr = True

    def on_close(self, hook) -> None:
        """Call ``hook()`` at the start of close(), while the file is still open (e.g. last block)."""
        self._close_hooks.append(hook)

    def close(self) -> None:
        hooks, self._close_hooks = self._close_hooks, []
        failure = None
        for hook in hooks:
            try:
                hook()
            except Exception as exc:   # the file must still be closed; the first failure is raised after
                failure = failure or exc
        if self.broken:
            # closing would retry the failed writes; the file stays as its last good flush left it
            abandon(self.h5)
            self.swmr = False
            self._deferred = []
            self.lock.release()
            if failure is not None and sys.exc_info()[1] is None:
                raise failure
            return
        if self.h5.id.valid:
            try:
                self.h5.close()
            except (OSError, RuntimeError) as exc:   # h5py raises RuntimeError when a close's flush fails
                failure = failure or OutputError(f"{self.path}: closing failed ({exc}); free disk space "
                                                 f"(everything flushed before is kept)")
        if self.swmr:
            self.swmr = False
            deferred, self._deferred = self._deferred, []
            if deferred:
                self._write_deferred(deferred)
        self.lock.release()
        if failure is not None:
            if sys.exc_info()[1] is None:
                raise failure
            # closing while an error is being handled (the runner's cleanup): that error is the news
            print(f"spikefa: {one_line(failure)}", file=sys.stderr)

    def discard(self) -> None:
        """Close and delete the file: a run that failed before computing anything leaves nothing behind."""
        self.close()
        if not self.broken:
            try:
                os.remove(self.path)
            except OSError:
                pass

    def _write_deferred(self, deferred):
        """Reopen the file outside SWMR mode and write what SWMR mode could not."""
        h5 = None
        # the second try: a live reader (SWMR) still holds the file's lock; these few writes go ahead
        for locking in (None, False):
            try:
                h5 = h5py.File(self.path, "r+", libver="latest", locking=locking)
                break
            except OSError as exc:
                failure = exc
        if h5 is None:
            print(f"spikefa: {self.path}: could not reopen to write final status and results ({one_line(failure)}); "
                  f"recordings and declared metrics are kept", file=sys.stderr)
            return
        try:
            for what, fn in deferred:
                try:
                    fn(h5)
                except (OSError, ValueError) as exc:
                    raise OutputError(f"{self.path}: writing {what} failed ({one_line(exc)}); free disk space or "
                                      f"choose another --out (everything written before is kept)") from None
        finally:
            h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

