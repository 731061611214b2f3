"""Recorded spikes as a SONATA spike file (h5py only).

    /spikes/<population>            attrs: sorting = by_time (HDF5 enum none/by_id/by_time)
    /spikes/<population>/timestamps float64, attrs: units = "ms"
    /spikes/<population>/node_ids   uint64: the unit's index within its layer

One population per layer (``layer<l>``; ``layer<l>_stream<s>`` for a stream other than 0), so a
node id is the paper's unit index. When several recorders sampled a layer, their spikes are
merged and each (time, node) appears once. The file is written a block of steps at a time, in
time order. Traces (V, U, mod) have no place in a SONATA spike file; NWB and Neo exports carry them.
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from ...errors import ConfigError
from .source import BLOCK_VALUES, RecordingSource

SUFFIXES = (".spikes.h5",)
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype=np.uint8)


def population_name(layer: int, stream: int) -> str:
    return f"layer{layer}" if stream == 0 else f"layer{layer}_stream{stream}"


def write(src: RecordingSource, path: str) -> None:
    populations = {}
    for ch in src.spike_channels:
        populations.setdefault((ch.layer, ch.stream), []).append(ch)
    if not populations:
        raise ConfigError(f"{', '.join(src.paths)}: no spikes were recorded (only traces, or a rate-mode run); "
                          f"export the traces with --to nwb or --to neo")
    sizes = src.layer_sizes()
    with h5py.File(path, "w") as h5:
        h5.attrs["magic"] = np.uint32(0x0A7A)
        h5.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        spikes = h5.create_group("spikes")
        spikes.attrs["exported_by"] = src.metadata()["exported_by"]
        spikes.attrs["time"] = src.time_meaning() + "; timestamps are in ms"
        spikes.attrs["dt_ms"] = src.dt * 1e3
        spikes.attrs["params"] = json.dumps(src.model_params())
        for (layer, stream), channels in sorted(populations.items()):
            g = spikes.create_group(population_name(layer, stream))
            g.attrs.create("sorting", data=2, dtype=SORTING)
            g.attrs["layer"] = layer
            g.attrs["stream"] = stream
            if layer < len(sizes):
                g.attrs["n_nodes"] = sizes[layer]
            g.attrs["recorders"] = [c.recorder for c in channels]
            # uncompressed: libsonata's wheels carry an HDF5 without the deflate filter
            ts = g.create_dataset("timestamps", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1 << 12,))
            ts.attrs["units"] = "ms"
            ids = g.create_dataset("node_ids", shape=(0,), maxshape=(None,), dtype=np.uint64, chunks=(1 << 12,))
            for steps, nodes in _merged_events(src, channels):
                n = ts.shape[0]
                ts.resize(n + len(steps), axis=0)
                ids.resize(n + len(steps), axis=0)
                ts[n:] = src.time(steps) * 1e3
                ids[n:] = nodes


def _merged_events(src, channels):
    """(steps, node ids) of the spikes of one population, block by block, sorted by (step, node), unique."""
    recorded = [src.index(c.recorder)["step"] for c in channels]
    recorded = [s for s in recorded if len(s)]
    if not recorded:
        return
    first, last = min(int(s[0]) for s in recorded), max(int(s[-1]) for s in recorded)
    span = max(1, BLOCK_VALUES // max(1, sum(len(c.units) for c in channels)))
    for a in range(first, last + 1, span):
        steps, nodes = [], []
        for ch in channels:
            for s, cols in src.spike_blocks(ch, a, a + span):
                steps.append(s)
                nodes.append(ch.units[cols])
        if not steps:
            continue
        s, u = np.concatenate(steps), np.concatenate(nodes)
        if not len(s):
            continue
        if len(channels) > 1:      # several recorders of one layer: each spike once, in time order
            base = int(u.max()) + 1
            key = np.unique(s * base + u)
            s, u = key // base, key % base
        yield s, u.astype(np.uint64)
