"""Recordings as an NWB file (pynwb): Units for spikes, TimeSeries for traces, TimeIntervals for images.

- ``units``: one row per recorded unit of each spike recorder, with ``spike_times`` (s),
  ``obs_intervals`` (the windows the recorder sampled), ``layer``, ``unit_index`` (index in the
  layer), ``stream`` and ``recorder``; ``resolution`` is dt.
- ``acquisition/<recorder>_layer<l>_<var>``: a TimeSeries per recorded (layer, variable) V, U,
  mod, error (and rate-mode spike probabilities), samples x recorded units. Plain TimeSeries,
  not ElectricalSeries or PatchClampSeries: those describe voltages measured through electrodes
  in volts, and these are the model's dimensionless potentials, known without measurement.
  Which units the columns are is in the description, and in ``comments`` as JSON. Data are
  streamed into the file a block of samples at a time.
- ``intervals/image_presentations``: start/stop of each image shown, image index, label,
  phase (train or test), stream.
- parameters, seed and the time mapping: ``notes`` (JSON), ``experiment_description``,
  ``data_collection``.
"""

from __future__ import annotations

import datetime
import json
import uuid

import numpy as np

from ... import __version__
from .destination import require
from .source import RecordingSource

SUFFIXES = (".nwb",)
TRACE_MEANING = {
    "V": "forward PSP V_l (V += tau (W s + b - V)), dimensionless",
    "U": "feedback potential U_l, dimensionless",
    "mod": "modulatory signal phi_d(U_l) of the three-factor plasticity, dimensionless",
    "error": "error neurons U_L of the output layer, dimensionless",
    "spikes": "spike probability sigma(V_l) (a rate-mode run draws no spikes)",
}


def write(src: RecordingSource, path: str) -> None:
    pynwb = require("pynwb", "nwb")
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    meta = src.metadata()
    start = _start_time(src)
    nwb = pynwb.NWBFile(
        session_description=f"spikefa recording: {src.title()}",
        identifier=str(uuid.uuid4()),
        session_start_time=start,
        experiment_description=_summary(src, meta),
        data_collection=src.time_meaning(),
        notes=json.dumps(meta, indent=1, default=_plain),
        source_script=f"spikefa {__version__} (spikefa export --to nwb)",
        source_script_file_name="spikefa/record/export/nwb.py",
        stimulus_notes="training images of the run's data set, each shown for steps_per_image steps; see "
                       "intervals/image_presentations",
        session_id=f"seed{meta['seed']}" if meta["seed"] is not None else None,
        keywords=["simulation", "spiking neural network", "feedback alignment", "spikefa"],
        # nwbinspector counts a missing subject as critical; here it is the simulated network, born
        # when the run started, of sex "O" (other), with no species to name (not an animal)
        subject=pynwb.file.Subject(subject_id=f"spikefa-network-seed{meta['seed']}", sex="O", date_of_birth=start,
                                   description=f"a simulated spiking neural network, layers {meta['layer_sizes']} "
                                               f"(spikefa); not an animal"),
    )
    if src.spike_channels:
        nwb.units = _units_table(src, H5DataIO)
    _add_presentations(nwb, src, pynwb)
    first_of_recorder = {}
    for ch in src.trace_channels:
        if len(src.index(ch.recorder)["step"]):        # a TimeSeries needs at least one sample
            nwb.add_acquisition(_trace_series(src, ch, pynwb, H5DataIO, first_of_recorder))
    with pynwb.NWBHDF5IO(path, "w") as io:
        io.write(nwb)


def _plain(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return str(x)


def _start_time(src) -> datetime.datetime:
    created = src.run_attrs()[0].get("created")
    try:
        t = datetime.datetime.fromisoformat(created)
    except (TypeError, ValueError):
        t = datetime.datetime.now()
    return t.astimezone() if t.tzinfo is None else t     # a naive time is the local time it was written in


def _summary(src, meta) -> str:
    net = meta["params"].get("network") or {}
    bits = [src.title(), f"seed {meta['seed']}", f"layers {meta['layer_sizes']}"]
    bits += [f"{k} {net[k]}" for k in ("mode", "feedback", "tau", "eta") if k in net]
    bits.append(f"step k exported at k * {src.dt:g} s")
    return "; ".join(str(b) for b in bits)


def _units_table(src, H5DataIO):
    """Build the Units table column by column (numpy arrays, compressed): no per-spike Python objects."""
    from hdmf.common import VectorData, VectorIndex
    from pynwb.misc import Units

    dt = src.dt
    times, ends, obs, obs_ends = [], [], [], []
    cols = {"layer": [], "unit_index": [], "stream": [], "recorder": []}
    n_spikes = n_obs = 0
    for ch in src.spike_channels:
        spans = src.spans(ch.recorder)
        observed = np.array([[s.start * dt, s.stop * dt] for s in spans], dtype=np.float64).reshape(-1, 2)
        for unit, steps in zip(ch.units, src.spike_steps_per_unit(ch)):
            times.append(src.time(steps))
            n_spikes += len(steps)
            ends.append(n_spikes)
            obs.append(observed)
            n_obs += len(observed)
            obs_ends.append(n_obs)
            cols["layer"].append(ch.layer)
            cols["unit_index"].append(int(unit))
            cols["stream"].append(ch.stream)
            cols["recorder"].append(ch.recorder)
    spike_times = np.concatenate(times) if times else np.zeros(0)
    st = VectorData(name="spike_times", description=f"spike times in seconds (step k at k * {dt:g} s)",
                    data=H5DataIO(spike_times, compression="gzip") if len(spike_times) else spike_times)
    st_index = VectorIndex(name="spike_times_index", data=np.array(ends, dtype=np.int64), target=st)
    oi = VectorData(name="obs_intervals", description="windows [start, stop) in seconds the recorder sampled",
                    data=np.concatenate(obs) if obs else np.zeros((0, 2)))
    oi_index = VectorIndex(name="obs_intervals_index", data=np.array(obs_ends, dtype=np.int64), target=oi)
    described = {
        "layer": "layer of the network: 0 input, 1..L-1 hidden, L output (the paper's numbering)",
        "unit_index": "index of the unit within its layer",
        "stream": "input stream of the network (0 is the paper's single stream)",
        "recorder": "name of the spikefa recorder that recorded the unit",
    }
    columns = [st, st_index, oi, oi_index] + [
        VectorData(name=k, description=described[k],
                   data=np.array(v, dtype=np.int64) if k != "recorder" else list(v))
        for k, v in cols.items()]
    return Units(name="units", id=np.arange(len(ends)), columns=columns, resolution=dt,
                 description="units of the spiking network whose spikes were recorded, one row per recorder "
                             "and unit")


def _add_presentations(nwb, src, pynwb):
    from hdmf.common import VectorData

    p = src.presentations()
    if not len(p["start_step"]):
        return
    dt = src.dt
    described = {
        "start_time": ("start of the presentation in seconds: its first step k at k * dt", src.time(p["start_step"])),
        "stop_time": ("end of the presentation in seconds: one step after its last", src.time(p["stop_step"])),
        "image_index": ("index of the image in the data set", p["image"]),
        "label": ("class label of the image", p["label"]),
        "phase": ("train or test (only training steps are recorded)", list(p["phase"])),
        "stream": ("input stream that was shown the image", p["stream"]),
        "image_count": ("images this stream had been shown before this one", p["image_count"]),
    }
    columns = [VectorData(name=k, description=d, data=v) for k, (d, v) in described.items()]
    table = pynwb.epoch.TimeIntervals(
        name="image_presentations", id=np.arange(len(p["start_step"])), columns=columns,
        description=f"images shown while recorders sampled; step k is at k * {dt:g} s")
    nwb.add_time_intervals(table)


def _trace_series(src, ch, pynwb, H5DataIO, first_of_recorder):
    steps = src.index(ch.recorder)["step"]
    data = H5DataIO(_trace_blocks(src, ch, len(steps)), compression="gzip")
    regular = len(steps) > 1 and bool(np.all(np.diff(steps) == ch.every))
    timing = {}
    if regular:
        timing = {"starting_time": float(steps[0]) * src.dt, "rate": 1.0 / (ch.every * src.dt)}
    elif ch.recorder in first_of_recorder:       # the same sample times: link, do not copy
        timing = {"timestamps": first_of_recorder[ch.recorder]}
    else:
        timing = {"timestamps": H5DataIO(src.time(steps), compression="gzip")}
    units = [int(u) for u in ch.units]
    series = pynwb.TimeSeries(
        name=ch.name, data=data, unit="a.u.",
        description=f"{TRACE_MEANING.get(ch.variable, ch.variable)}; layer {ch.layer}, stream {ch.stream}, "
                    f"recorder {ch.recorder!r}; column j is unit units[j] of the layer, units = {units}",
        comments=json.dumps({"recorder": ch.recorder, "layer": ch.layer, "variable": ch.variable,
                             "stream": ch.stream, "units": units, "every": ch.every}),
        **timing)
    if not regular and ch.recorder not in first_of_recorder:
        first_of_recorder[ch.recorder] = series
    return series


def _block_iterator_class():
    from hdmf.data_utils import AbstractDataChunkIterator, DataChunk

    class Blocks(AbstractDataChunkIterator):
        """A trace channel read a block of samples at a time, for hdmf to write as it reads."""

        def __init__(self, src, ch, n_samples):
            self._n, self._k = n_samples, len(ch.units)
            self._it = src.trace_blocks(ch)
            self._row = 0

        def __iter__(self):
            return self

        def __next__(self):
            steps, values = next(self._it)
            lo = self._row
            self._row += len(steps)
            return DataChunk(data=np.ascontiguousarray(values, dtype=np.float32),
                             selection=np.s_[lo:self._row, 0:self._k])

        def recommended_chunk_shape(self):
            return (max(1, min(self._n, (1 << 16) // max(1, self._k))), self._k)

        def recommended_data_shape(self):
            return (self._n, self._k)

        @property
        def dtype(self):
            return np.dtype(np.float32)

        @property
        def maxshape(self):
            return (self._n, self._k)

    return Blocks


def _trace_blocks(src, ch, n_samples):
    return _block_iterator_class()(src, ch, n_samples)
