"""Buffers that recorders fill each step, and the HDF5 datasets they are written to in blocks.

Each recorder owns a block of preallocated rows; a recorded step copies the selected units of
each (layer, variable) into the next row (np.take into a preallocated row on the host; a small
kernel into a device buffer for CUDA) and allocates nothing. When the block is full, or the flush
interval has passed, the rows are appended to the file: channels first, the step index last, so
the length of ``step`` is the number of complete samples even if a write is cut short. Appends
are idempotent (each writes at the position of the last committed sample), so a block whose
write was interrupted can be written again.
"""

from __future__ import annotations

import bisect

import h5py
import numpy as np

from .declare import VARIABLE_MEANING
from .netview import image_and_label

F32 = np.float32
INDEX_FIELDS = ("step", "image", "label", "image_count")
INDEX_MEANING = {
    "step": "training steps completed when the sample was taken, counting this one (net.step)",
    "image": "index in the data set of the image the recorded stream was shown at this step",
    "label": "class label of that image",
    "image_count": "images shown to each stream before the current one (net.images_seen / streams); "
                   "what recorder windows count",
}
COMPRESSION = {"compression": "gzip", "compression_opts": 1}
# Small chunks: every flush compresses and rewrites each dataset's last, partly filled chunk, so
# a flush costs time in proportion to the chunk size, and the space of each rewritten chunk is
# lost (with 128 KB chunks and a flush a second, files grew to 3x their data).
CHUNK_BYTES = 1 << 13


def chunk_rows(row_bytes: int) -> int:
    return int(max(16, min(4096, CHUNK_BYTES // max(1, row_bytes))))


def _append_rows(ds, n: int, rows: np.ndarray) -> None:
    m = rows.shape[0]
    if ds.shape[0] != n + m:
        ds.resize(n + m, axis=0)
    ds[n:n + m] = rows


class HostChannel:
    """One (layer, variable) of a recorder, gathered on the host."""

    def __init__(self, layer: int, var: str, units, layer_size: int, block: int, dtype, stream: int | None,
                 read):
        self.layer, self.var = layer, var
        self.read = read            # returns the live array of this (layer, var)
        self.units = None if units is None else np.asarray(units, dtype=np.intp)
        self.n_units = layer_size if units is None else len(units)
        self.stream = stream
        self.buf = np.zeros((block, self.n_units), dtype=dtype)
        self.rows = list(self.buf)  # one view per row, made once: a recorded step makes none
        self.encoding = "float32"
        self.ds = self.ds_unit = None
        self.events_committed = self.events_pending = 0

    def share(self, buf: np.ndarray) -> None:
        """Keep this channel's rows in ``buf`` (its columns of a staging array shared with the other
        channels, which a compiled block fills: record/compiled.py)."""
        self.buf = buf
        self.rows = list(buf)

    def gather(self, src, row: int) -> None:
        if self.stream is not None:
            src = src[self.stream]
        if self.units is None:
            np.copyto(self.rows[row], src, casting="unsafe")
        else:
            # mode="clip": indices were checked when declared, and "raise" would buffer (allocate)
            src.take(self.units, out=self.rows[row], mode="clip")

    def fetch(self, m: int) -> np.ndarray:
        return self.buf[:m]

    # -- storage -------------------------------------------------------------------------------
    def create(self, group, unit_ids: np.ndarray, spike_format: str, rate_mode: bool) -> None:
        var, k = self.var, self.n_units
        attrs = {"variable": var, "meaning": VARIABLE_MEANING[var], "layer": self.layer,
                 "units": unit_ids, "n_units": k}
        if var == "spikes" and not rate_mode and spike_format == "events":
            self.encoding = "events"
            g = group.create_group(var)
            rows = chunk_rows(8)
            self.ds = g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64,
                                       chunks=(rows,), **COMPRESSION)
            self.ds_unit = g.create_dataset("unit", shape=(0,), maxshape=(None,), dtype=np.int32,
                                            chunks=(rows,), **COMPRESSION)
            attrs.update(encoding="events", description="one entry per spike: step[i] is the step, unit[i] the "
                                                        "unit index in the layer; sorted by step")
            target = g
        elif var == "spikes" and not rate_mode:
            self.encoding = "packbits"
            nbytes = (k + 7) // 8
            self.ds = group.create_dataset(var, shape=(0, nbytes), maxshape=(None, nbytes), dtype=np.uint8,
                                           chunks=(chunk_rows(nbytes), nbytes), **COMPRESSION)
            attrs.update(encoding="packbits", bitorder="big",
                         description="row = recorded step; bit j (numpy.unpackbits(row, count=n_units), "
                                     "bitorder big) is 1 when units[j] spiked")
            target = self.ds
        else:
            self.ds = group.create_dataset(var, shape=(0, k), maxshape=(None, k), dtype=F32,
                                           chunks=(chunk_rows(4 * k), k), shuffle=True, **COMPRESSION)
            attrs.update(encoding="float32", description="row = recorded step, column j = units[j]")
            if var == "spikes":
                attrs["meaning"] = "spike probabilities sigma(V_l) (rate mode)"
            target = self.ds
        for key, value in attrs.items():
            target.attrs[key] = value
        self.unit_ids = unit_ids

    def attach_existing(self, group, unit_ids: np.ndarray) -> None:
        node = group[self.var]
        self.encoding = node.attrs["encoding"]
        if isinstance(self.encoding, bytes):
            self.encoding = self.encoding.decode()
        if self.encoding == "events":
            self.ds, self.ds_unit = node["step"], node["unit"]
            self.events_committed = self.events_pending = min(self.ds.shape[0], self.ds_unit.shape[0])
        else:
            self.ds = node
        self.unit_ids = unit_ids

    def write(self, n: int, m: int, steps: np.ndarray) -> None:
        data = self.fetch(m)
        if self.encoding == "events":
            rows, cols = np.nonzero(data)
            e0 = self.events_committed
            _append_rows(self.ds, e0, steps[rows])
            _append_rows(self.ds_unit, e0, self.unit_ids[cols].astype(np.int32))
            self.events_pending = e0 + rows.size
        elif self.encoding == "packbits":
            _append_rows(self.ds, n, np.packbits(data != 0, axis=1))
        else:
            _append_rows(self.ds, n, data if data.dtype == F32 else data.astype(F32))

    def commit(self) -> None:
        self.events_committed = self.events_pending


class CudaChannel(HostChannel):
    """Gathers on the device into a device block; the block is copied back when written."""

    def __init__(self, layer, var, units, layer_size, block, dtype, stream, read):
        super().__init__(layer, var, units, layer_size, block, dtype, stream, read)
        from numba import cuda
        from .cuda_gather import gather_kernel, copy_kernel

        self._cuda = cuda
        self.dbuf = cuda.device_array((block, self.n_units), dtype=dtype)
        self.dunits = None if self.units is None else cuda.to_device(self.units.astype(np.int64))
        self._threads = min(128, 32 * ((self.n_units + 31) // 32))
        self._blocks = (self.n_units + self._threads - 1) // self._threads
        self._gather = gather_kernel[self._blocks, self._threads]
        self._copy = copy_kernel[self._blocks, self._threads]

    def gather(self, src, row: int) -> None:
        if self.stream is not None:
            src = src[self.stream]
        if isinstance(src, np.ndarray):     # outside training the network's state is on the host
            src = self._cuda.to_device(src)
        if self.units is None:
            self._copy(src, self.dbuf, row)
        else:
            self._gather(src, self.dunits, self.dbuf, row)

    def fetch(self, m: int) -> np.ndarray:
        self.dbuf[:m].copy_to_host(self.buf[:m])
        return self.buf[:m]


class RecorderWriter:
    """The buffers and datasets of one resolved recorder."""

    def __init__(self, rec, channels: list, block: int):
        self.rec = rec
        self.name = rec.name
        self.channels = channels
        self.block = block
        self.every = rec.every
        self.stream = rec.stream
        self.windows = rec.windows
        self._window_starts, self._window_ends = rec.windows[:, 0].tolist(), rec.windows[:, 1].tolist()
        self.index = {f: np.zeros(block, dtype=np.int64) for f in INDEX_FIELDS}
        self.index_ds = {}
        self.rows = 0
        self.n_written = 0
        self.last_step_written = None
        self._window = 0

    def wants(self, step: int, image_count: int) -> bool:
        if step % self.every:
            return False
        w = self.windows
        if not len(w):
            return True
        self.passed(image_count)
        return self._window < len(w) and image_count >= w[self._window, 0]

    def may_want(self, first_count: int, last_count: int) -> bool:
        """Whether any step at image counts first_count..last_count lies in a window (``every`` aside)."""
        if not len(self.windows):
            return True
        j = bisect.bisect_right(self._window_ends, first_count)
        return j < len(self._window_ends) and last_count >= self._window_starts[j]

    def wants_many(self, steps: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """``wants`` for each of ``steps`` (at image counts ``counts``, not decreasing), without
        moving on through the windows (``passed`` does that once the steps have run)."""
        ok = steps % self.every == 0
        w = self.windows
        if len(w):
            j = np.searchsorted(w[:, 1], counts, side="right")     # the windows not yet over
            inside = j < len(w)
            ok &= inside & (counts >= w[np.minimum(j, len(w) - 1), 0])
        return ok

    def passed(self, image_count: int) -> None:
        """The run has reached ``image_count``: the windows before it are over (as ``wants`` finds)."""
        w = self.windows
        while self._window < len(w) and image_count >= w[self._window, 1]:
            self._window += 1

    def next_step(self, after: int, image_start) -> int | None:
        """The first step >= ``after`` that ``wants`` would take (None: none left).

        ``image_start(count)``: the step at which the recorded stream starts its image ``count``
        (None when unknown: then every step from ``after`` on is a candidate inside windows)."""
        every = self.every
        w = self.windows
        if not len(w):
            return -(-after // every) * every
        if image_start is None:
            return after if self._window < len(w) else None
        for j in range(self._window, len(w)):
            start, stop = image_start(int(w[j, 0])), image_start(int(w[j, 1]))   # steps [start, stop)
            k = -(-max(after, start) // every) * every
            if k < stop:
                return k
        return None

    def record(self, net, step: int, image_count: int) -> bool:
        """Copy this step into the next row; True when the block is full."""
        row = self.rows
        for ch in self.channels:
            ch.gather(ch.read(), row)
        ix = self.index
        ix["step"][row] = step
        ix["image"][row], ix["label"][row] = image_and_label(net, self.stream)
        ix["image_count"][row] = image_count
        self.rows = row + 1
        return self.rows == self.block

    def write_block(self) -> None:
        m = self.rows
        if not m:
            return
        n = self.n_written
        steps = self.index["step"][:m]
        for ch in self.channels:
            ch.write(n, m, steps)
        for f in INDEX_FIELDS:          # step last: its length counts complete samples
            if f != "step":
                _append_rows(self.index_ds[f], n, self.index[f][:m])
        _append_rows(self.index_ds["step"], n, steps)
        for ch in self.channels:
            ch.commit()
        self.last_step_written = int(steps[m - 1])
        self.n_written = n + m
        self.rows = 0

    # -- storage -------------------------------------------------------------------------------
    def create(self, group, rate_mode: bool) -> None:
        rows = chunk_rows(8)
        for f in INDEX_FIELDS:
            ds = group.create_dataset(f, shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(rows,),
                                      **COMPRESSION)
            ds.attrs["meaning"] = INDEX_MEANING[f]
            self.index_ds[f] = ds
        for layer in self.rec.layers:
            lg = group.create_group(f"layer{layer}")
            unit_ids = self.unit_ids(layer)
            lg.create_dataset("units", data=unit_ids)
            lg.attrs["layer"] = layer
            lg.attrs["layer_size"] = self.rec.layer_sizes[layer]
            lg.attrs["variables"] = np.array(self.rec.variables[layer], dtype=h5py.string_dtype())
        for ch in self.channels:
            ch.create(group[f"layer{ch.layer}"], self.unit_ids(ch.layer), self.rec.spike_format, rate_mode)

    def attach_existing(self, group) -> None:
        for f in INDEX_FIELDS:
            self.index_ds[f] = group[f]
        self.n_written = group["step"].shape[0]
        if self.n_written:
            self.last_step_written = int(group["step"][self.n_written - 1])
        for ch in self.channels:
            ch.attach_existing(group[f"layer{ch.layer}"], self.unit_ids(ch.layer))

    def unit_ids(self, layer: int) -> np.ndarray:
        u = self.rec.units[layer]
        return np.arange(self.rec.layer_sizes[layer], dtype=np.int64) if u is None else u
