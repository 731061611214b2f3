"""The observer attached to a network: records each step, writes blocks, flushes on a clock.

:func:`build_recorders` checks the declarations against the network, creates every dataset under
/recordings, switches the file to SWMR mode (readers can follow it live; a killed run keeps all
samples up to the last flush) and attaches a :class:`Recording` to the network. Close it (it is a
context manager; a RunFile also closes it first thing when it is closed) to write the last block.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time

import h5py
import numpy as np

from .. import __version__, diskroom
from ..errors import ConfigError, OutputError, one_line
from ..runfile import RunFile, abandon, check_writable, create_file, open_for_resume
from . import netview
from .compiled import CompiledSampling
from .declare import Recorder, parse_record_params, resolve_recorders
from .writer import CHUNK_BYTES, CudaChannel, HostChannel, RecorderWriter

LAYOUT_VERSION = 1
STEP_MEANING = ("one time step of the network; a sample's step is net.step when it was taken: the training "
                "steps completed, counting this one (the first step of a run is 1). Each image is shown "
                "for train.steps_per_image consecutive steps (see the model parameters)")


class Recording:
    """Observer that records declared variables into /recordings of an open HDF5 file."""

    reads_weights = False     # state variables only: training may hold a plasticity change over (loops.py)

    def __init__(self, h5, path: str, writers: list, flush_interval_s: float, *, runfile: RunFile | None = None,
                 owns_file: bool = False, log=None):
        self.h5 = h5
        self.path = path
        self.writers = writers
        self.flush_interval_s = float(flush_interval_s)
        self.runfile = runfile
        self.owns_file = owns_file
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.net = None
        self.closed = False
        self.failed = False
        self.flushed_step = None     # last step known to be on disk (a failed flush may leave later ones partial)
        self.first_step = None       # the first step this recording can hold (resumed runs start late)
        self._released_step = None   # last step written, once a failure released the data sets
        self._next_flush = time.monotonic() + self.flush_interval_s
        self.compiled = None         # CompiledSampling, where the network lets blocks take the samples

    # -- observer protocol -----------------------------------------------------------------------
    def on_step(self, net) -> None:
        if self.failed or self.closed:
            return
        step = int(net.step)
        count = netview.images_seen(net)
        for w in self.writers:
            if w.wants(step, count) and w.record(net, step, count):
                self._write(w.write_block)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def next_step(self, net) -> int | None:
        """The first step at which a recorder records (None: none will), so that the network runs
        compiled blocks of steps in between. The network asks before every block (at least every
        BLOCK_SECONDS), so buffered samples are also flushed on the clock here, between windows."""
        if self.failed or self.closed or not self.writers:
            return None
        if time.monotonic() >= self._next_flush and any(w.rows for w in self.writers):
            self.flush()
        after = netview.next_observed_step(net)
        start = netview.image_start(net)
        steps = [k for k in (w.next_step(after, start) for w in self.writers) if k is not None]
        return min(steps) if steps else None

    # -- samples taken inside compiled blocks (record/compiled.py, loops.train_slots) -----------
    def samples_inside(self) -> bool:
        """Whether a compiled block may take this recording's samples (instead of on_step)."""
        return self.compiled is not None and not (self.failed or self.closed)

    def sample_plan(self, steps: np.ndarray, counts: np.ndarray):
        """The samples a block of ``steps`` (at image counts ``counts``) takes (compiled.Plan)."""
        return self.compiled.plan(steps, counts)

    def samples_taken(self, plan, steps, counts, images, labels) -> None:
        """After a block that took ``plan``: index the samples, write full blocks, flush on the clock."""
        self.compiled.taken(plan, steps, counts, images, labels, self._write)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def on_end(self, net=None) -> None:
        """Optional protocol hook at the end of a run: write what is buffered."""
        self.flush()

    # -- writing -----------------------------------------------------------------------------
    def _write(self, fn):
        try:
            fn()
        except (OSError, ValueError, RuntimeError) as exc:
            self.failed = True
            if self.runfile is not None:
                self.runfile.broken = True
            kept = self.flushed_step
            kept_txt = "no samples" if kept is None else f"samples up to step {kept}"
            why = one_line(exc)
            raise OutputError(f"{self.path}: writing recordings failed ({why}); free disk space or choose "
                              f"another --out ({kept_txt} are kept; later ones may be incomplete)") from None

    def flush(self) -> None:
        """Write every buffered row and make it durable (and visible to SWMR readers)."""
        if self.failed or self.closed or not self.writers:
            return
        self._check_room()
        for w in self.writers:
            self._write(w.write_block)
        self._write(self.h5.flush)
        self.flushed_step = self.last_step_written()
        if self.runfile is not None and self.flushed_step is not None:
            self.runfile.holds_data = True     # samples on disk: a failing run keeps its file
        self._next_flush = time.monotonic() + self.flush_interval_s

    def _check_room(self):
        """Stop before a flush the disk cannot take: HDF5 leaves a file it failed to extend inconsistent."""
        need = 0
        for w in self.writers:
            datasets = len(w.index_ds) + sum(2 if ch.encoding == "events" else 1 for ch in w.channels)
            # each flush rewrites the last, partly filled chunk of every data set
            need += w.rows * (8 * len(w.index_ds) + sum(ch.buf.itemsize * ch.n_units for ch in w.channels))
            need += datasets * 2 * CHUNK_BYTES
        kept = "no samples" if self.flushed_step is None else f"samples up to step {self.flushed_step}"
        try:
            diskroom.check(self.path, need, "the next flush of recordings", kept=f"{kept} are kept")
        except OutputError:
            self.failed = True       # nothing failed on disk: the file closes normally, with its status
            self._stopped_for_room = True
            raise

    def _release(self):
        self._released_step = self.last_step_written()
        if not getattr(self, "_stopped_for_room", False):
            # a failed write: closing or freeing these data sets would retry it
            abandon(*[d for w in self.writers for d in w.index_ds.values()],
                    *[d for w in self.writers for ch in w.channels for d in (ch.ds, ch.ds_unit)])
        for w in self.writers:
            w.index_ds.clear()
            for ch in w.channels:
                ch.ds = ch.ds_unit = None
        self.writers = []

    def last_step_written(self):
        if not self.writers:
            return self._released_step
        steps = [w.last_step_written for w in self.writers if w.last_step_written is not None]
        return max(steps) if steps else None

    def close(self, interrupted: bool | None = None) -> None:
        """Write the last block, detach from the network, and close the file if this owns it.

        When closed because of Ctrl-C (``interrupted``, by default: a KeyboardInterrupt is being
        handled), say where the recordings are.
        """
        if self.closed:
            return
        if interrupted is None:
            interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt)
        try:
            if not self.failed:
                self.flush()
        finally:
            self.closed = True
            if self.failed:       # drop the data sets: closing the file must not retry their writes
                self._release()
            if self.net is not None:
                netview.detach(self.net, self)
            if self.owns_file and self.h5 is not None and self.h5.id.valid:
                if self.failed and not getattr(self, "_stopped_for_room", False):
                    abandon(self.h5)
                else:
                    self.h5.close()
        if interrupted and (self.writers or self.failed):
            last = self.last_step_written()
            if last is None:
                first = self.first_step
                since = f" (it records from step {first})" if first is not None else ""
                self.log(f"interrupted: no recordings yet in {self.path}{since}")
            else:
                self.log(f"interrupted: recordings up to step {last} kept in {self.path}")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(interrupted=exc_type is not None and issubclass(exc_type, KeyboardInterrupt))
        return False


def _recorders_from(record_params, source):
    if isinstance(record_params, Recorder):
        record_params = [record_params]
    if isinstance(record_params, (list, tuple)):
        record_params = {"recorders": list(record_params)}
    return parse_record_params(record_params, source)


def build_recorders(record_params, net, out, *, model_params: dict | None = None, total_images: int | None = None,
                    resume_step: int | None = None, continues: str | None = None, flush_interval_s: float | None = None,
                    block_steps: int | None = None, source: str = "<record>", log=None,
                    start_swmr: bool = True) -> Recording:
    """Check recorder declarations against ``net``, create their datasets, attach the observer.

    record_params  the ``record`` table of a model (dict), or a list of :class:`Recorder`.
    out            a RunFile, an open h5py.File, or a path (created, or continued when resuming).
    total_images   images the run presents, all streams together (places the named windows
                   early/middle/late; windows count the images of one stream).
    resume_step    when continuing after a checkpoint: the first step the resumed network will
                   report (the checkpoint's step + 1, as observers see steps completed; give
                   ``resume_step=True`` to take it from ``net``); samples at this step and later
                   already in the file are removed, and a new file records from here (the
                   reader joins the files).
    continues      the file this one continues (stored as an attribute for the reader).
    Raises ConfigError before anything is written when a declaration does not fit the network.
    With no recorders declared, nothing is written and the file is left as it is.
    """
    recorders, options = _recorders_from(record_params, source)
    if resume_step is True:
        resume_step = netview.next_observed_step(net)
    elif resume_step is False:
        resume_step = None
    if flush_interval_s is not None:
        options["flush_interval_s"] = float(flush_interval_s)
    if block_steps is not None:
        options["block_steps"] = int(block_steps)
    if options["flush_interval_s"] <= 0 or options["block_steps"] < 1:
        raise ConfigError(f"{source}: record.flush_interval_s must be > 0 and record.block_steps >= 1")
    sizes = netview.layer_sizes(net)
    if total_images is not None:  # windows count the images of one stream (netview.images_seen)
        total_images = -(-int(total_images) // netview.n_streams(net))
    resolved = resolve_recorders(recorders, sizes, n_streams=netview.n_streams(net), total_images=total_images,
                                 source=source)
    if not resolved:
        return Recording(None, _path_of(out), [], options["flush_interval_s"])

    rate_mode = netview.mode(net) == "rate"
    block = options["block_steps"]
    writers = [RecorderWriter(r, _channels(r, net, block), block) for r in resolved]

    runfile, owns_file = None, False
    if isinstance(out, RunFile):
        runfile, h5, path = out, out.h5, out.path
    elif isinstance(out, h5py.File):
        h5, path = out, out.filename
    else:
        path = os.fspath(out)
        check_writable(path)
        h5 = open_for_resume(path) if (resume_step is not None and os.path.exists(path)) else \
            create_file(path)
        owns_file = True

    try:
        if "recordings" in h5:
            if resume_step is None:
                raise ConfigError(f"{path}: already holds /recordings; write to a new file, or resume with "
                                  f"resume_step to continue them")
            _continue_existing(h5["recordings"], writers, resume_step, path)
        else:
            first = netview.next_observed_step(net) if resume_step is None else int(resume_step)
            _create_layout(h5, writers, resolved, net, rate_mode, options, model_params, first, continues)
        h5.flush()
        if start_swmr:
            if runfile is not None:
                runfile.start_swmr()
            elif not h5.swmr_mode:
                h5.swmr_mode = True
    except BaseException:
        if owns_file:
            h5.close()
        raise

    rec = Recording(h5, path, writers, options["flush_interval_s"], runfile=runfile, owns_file=owns_file, log=log)
    rec.first_step = int(h5["recordings"].attrs["first_step"])
    if CompiledSampling.supports(writers, net):
        rec.compiled = CompiledSampling(writers, net)
    if runfile is not None:
        runfile.on_close(rec.close)
    netview.attach(net, rec)
    rec.net = net
    return rec


def _path_of(out) -> str:
    if isinstance(out, RunFile):
        return out.path
    if isinstance(out, h5py.File):
        return out.filename
    return os.fspath(out)


def _channels(rec, net, block: int) -> list:
    on_device = netview.backend(net) == "cuda"
    channels = []
    for layer in rec.layers:
        for var in rec.variables[layer]:
            try:
                read, probe, stream_axis = netview.state_reader(net, var, layer, rec.stream)
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(f"record: recorder {rec.name!r}: the network has no {var!r} in layer {layer} "
                                  f"({exc}); remove it from the recorder") from None
            n = probe.shape[-1]
            if n != rec.layer_sizes[layer]:
                raise ConfigError(f"record: recorder {rec.name!r}: layer {layer} {var!r} has {n} units, "
                                  f"expected {rec.layer_sizes[layer]}")
            if stream_axis and rec.stream >= probe.shape[0]:
                raise ConfigError(f"record: recorder {rec.name!r}: stream {rec.stream} out of range; this "
                                  f"run has {probe.shape[0]} stream(s)")
            cls = CudaChannel if on_device or netview.is_device_array(probe) else HostChannel
            channels.append(cls(layer, var, rec.units[layer], n, block, np.dtype(probe.dtype),
                                rec.stream if stream_axis else None, read))
    return channels


def _create_layout(h5, writers, resolved, net, rate_mode, options, model_params, first_step, continues):
    g = h5.create_group("recordings")
    a = g.attrs
    a["layout_version"] = LAYOUT_VERSION
    a["spikefa_version"] = __version__
    a["created"] = _dt.datetime.now().isoformat(timespec="seconds")
    a["step_meaning"] = STEP_MEANING
    a["first_step"] = first_step
    a["continues"] = continues or ""
    a["backend"] = netview.backend(net)
    a["mode"] = "rate" if rate_mode else "spiking"
    a["layer_sizes"] = np.asarray(netview.layer_sizes(net), dtype=np.int64)
    a["n_streams"] = netview.n_streams(net)
    a["flush_interval_s"] = options["flush_interval_s"]
    a["block_steps"] = options["block_steps"]
    a["recorders"] = np.array([w.name for w in writers], dtype=h5py.string_dtype())
    if model_params is not None:
        a["model_params"] = json.dumps(model_params, sort_keys=True, default=str)
    elif "params" in h5.attrs:
        a["model_params"] = h5.attrs["params"]
    for w, r in zip(writers, resolved):
        rg = g.create_group(w.name)
        ra = rg.attrs
        ra["declared"] = json.dumps(r.declared, sort_keys=True, default=str)
        ra["layers"] = np.asarray(r.layers, dtype=np.int64)
        ra["every"] = r.every
        ra["windows"] = r.windows
        ra["window_names"] = np.array(r.window_names, dtype=h5py.string_dtype())
        ra["selection"] = r.selection
        ra["stream"] = r.stream
        ra["spike_format"] = r.spike_format
        w.create(rg, rate_mode)


def _continue_existing(group, writers, resume_step: int, path: str) -> None:
    """Trim samples at or after ``resume_step`` and continue the same datasets."""
    stored = [x.decode() if isinstance(x, bytes) else str(x) for x in group.attrs["recorders"]]
    names = [w.name for w in writers]
    if stored != names:
        raise ConfigError(f"{path}: holds recorders {stored}, the resumed run declares {names}; declare the "
                          f"same recorders or resume into a new file")
    for w in writers:
        rg = group[w.name]
        for layer in w.rec.layers:
            key = f"layer{layer}"
            if key not in rg or not np.array_equal(rg[key]["units"][()], w.unit_ids(layer)):
                raise ConfigError(f"{path}: recorder {w.name!r} recorded other units or layers than the "
                                  f"resumed run declares; declare the same recorder or resume into a new file")
            for ch in w.channels:
                if ch.layer == layer and ch.var not in rg[key]:
                    raise ConfigError(f"{path}: recorder {w.name!r} did not record {ch.var!r} in layer {layer}; "
                                      f"declare the same recorder or resume into a new file")
        trim_recorder(rg, resume_step)
        w.attach_existing(rg)


def trim_recorder(rg, stop_step: int) -> None:
    """Drop every sample of one recorder group at ``stop_step`` or later (and partial writes)."""
    steps = rg["step"][()]
    n = int(np.searchsorted(steps, stop_step, side="left"))
    for name, node in rg.items():
        if isinstance(node, h5py.Dataset):
            if name != "units" and node.maxshape[0] is None:
                node.resize(n, axis=0)
        else:
            for vname, vnode in node.items():
                if isinstance(vnode, h5py.Group):     # spike events
                    ev = vnode["step"][()]
                    k = int(np.searchsorted(ev, stop_step, side="left"))
                    k = min(k, vnode["unit"].shape[0])
                    vnode["step"].resize(k, axis=0)
                    vnode["unit"].resize(k, axis=0)
                elif vname != "units" and vnode.maxshape[0] is None:
                    vnode.resize(n, axis=0)
