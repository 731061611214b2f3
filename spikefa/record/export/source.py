"""A run's recordings as the exporters need them: spikes, traces and image presentations in seconds.

Everything is read through :func:`spikefa.record.open_run`, so a finished, live or killed run file
and a run joined with its resumed continuations (one timeline, no gap, no repeat) export alike.
spikefa counts time steps; an export places step k at ``k * dt`` seconds. Large recordings are
read a block of samples at a time (:meth:`RecordingSource.spike_blocks`, :meth:`trace_blocks`), so
an exporter that writes as it reads never holds a whole raster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from ... import __version__
from ...errors import ConfigError
from ..reader import open_run

DEFAULT_DT = 1e-3
# dense values read per block: bounds memory whatever the recording's length and width
BLOCK_VALUES = 1 << 22


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


@dataclass(frozen=True)
class Channel:
    """One (recorder, layer, variable) of a recording; its columns are ``units`` (indices in the layer)."""
    recorder: str
    layer: int
    variable: str        # spikes, V, U, mod, error; "spikes" of a rate-mode run are probabilities
    units: np.ndarray
    stream: int
    every: int
    is_spikes: bool      # spike events (False for rate-mode spikes, which are traces)

    @property
    def name(self) -> str:
        return f"{self.recorder}_layer{self.layer}_{self.variable}"


@dataclass(frozen=True)
class Span:
    """Steps [start, stop) that a recorder sampled without a break, within one declared window."""
    recorder: str
    start: int
    stop: int
    window: str          # the declared window's name; "" when the recorder declared none


class RecordingSource:
    """The recordings of a run (one file, or a run and its continuations) ready for export."""

    def __init__(self, paths, dt: float = DEFAULT_DT, follow: bool = False):
        try:
            dt = float(dt)
        except (TypeError, ValueError):
            raise ConfigError(f"--dt {dt!r}: give the seconds one time step stands for, e.g. 0.001") from None
        if not (math.isfinite(dt) and dt > 0):
            raise ConfigError(f"--dt {dt}: must be a positive number of seconds, e.g. 0.001")
        self.dt = dt
        self.rec = open_run(paths, follow=follow)
        self.paths = list(self.rec.paths)
        self._index = {}
        try:
            self._contents = self.rec.contents()
            self.channels = self._find_channels()
        except BaseException:
            self.close()
            raise
        if not any(self._contents[name]["samples"] for name in self._contents):
            names = ", ".join(self._contents) or "none"
            self.close()
            raise ConfigError(f"{', '.join(self.paths)}: the recorders ({names}) hold no samples yet; export "
                              f"after the run has recorded (a live run flushes every record.flush_interval_s)")

    # -- what was recorded ---------------------------------------------------------------------
    def _group(self, recorder: str):
        return self.rec.files[0]["recordings"][recorder]

    def _find_channels(self) -> list:
        out = []
        for name, info in self._contents.items():
            g = self._group(name)
            stream = int(g.attrs.get("stream", 0))
            for layer, lay in sorted(info["layers"].items()):
                for var in lay["variables"]:
                    spikes = var == "spikes" and _s(g[f"layer{layer}"][var].attrs.get("encoding", "")) != "float32"
                    out.append(Channel(name, int(layer), var, np.asarray(lay["units"], np.int64), stream,
                                       int(info["every"]), spikes))
        return out

    @property
    def spike_channels(self) -> list:
        return [c for c in self.channels if c.is_spikes]

    @property
    def trace_channels(self) -> list:
        return [c for c in self.channels if not c.is_spikes]

    def layer_sizes(self) -> list:
        return [int(x) for x in self.rec.attrs.get("layer_sizes", [])]

    def recorders(self) -> list:
        return list(self._contents)

    def index(self, recorder: str) -> dict:
        """Step, image, label and image_count of every sample of a recorder (int64, cached)."""
        if recorder not in self._index:
            self._index[recorder] = self.rec.index(recorder)
        return self._index[recorder]

    def time(self, steps) -> np.ndarray:
        """Seconds of steps: step k is at k * dt."""
        return np.asarray(steps, dtype=np.float64) * self.dt

    # -- reading in blocks -----------------------------------------------------------------------
    def _blocks(self, ch: Channel, lo_step=None, hi_step=None):
        """Step windows [a, b) covering the channel's samples in [lo_step, hi_step), a block each."""
        steps = self.index(ch.recorder)["step"]
        i0 = 0 if lo_step is None else int(np.searchsorted(steps, lo_step, side="left"))
        i1 = len(steps) if hi_step is None else int(np.searchsorted(steps, hi_step, side="left"))
        rows = max(1, BLOCK_VALUES // max(1, len(ch.units)))
        for i in range(i0, i1, rows):
            j = min(i + rows, i1)
            yield int(steps[i]), int(steps[j - 1]) + 1

    def spike_blocks(self, ch: Channel, lo_step=None, hi_step=None):
        """(steps, columns) of the spikes of a channel, a block of samples at a time, in time order.

        columns index ``ch.units``; within a step, columns ascend.
        """
        for a, b in self._blocks(ch, lo_step, hi_step):
            raster = self.rec.raster(ch.layer, window=(a, b), recorder=ch.recorder)
            rows, cols = np.nonzero(raster)
            steps = self.index(ch.recorder)["step"]
            base = int(np.searchsorted(steps, a, side="left"))
            yield steps[base + rows], cols

    def spike_steps_per_unit(self, ch: Channel, lo_step=None, hi_step=None) -> list:
        """The steps each unit of a channel spiked at: one sorted int64 array per column."""
        parts = [[] for _ in ch.units]
        for steps, cols in self.spike_blocks(ch, lo_step, hi_step):
            order = np.argsort(cols, kind="stable")
            bounds = np.searchsorted(cols[order], np.arange(len(ch.units) + 1))
            for j in range(len(ch.units)):
                if bounds[j + 1] > bounds[j]:
                    parts[j].append(steps[order[bounds[j]:bounds[j + 1]]])
        return [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]

    def trace_blocks(self, ch: Channel, lo_step=None, hi_step=None):
        """(steps, values) of a trace channel, a block of samples at a time: values float32 (samples x units)."""
        steps = self.index(ch.recorder)["step"]
        for a, b in self._blocks(ch, lo_step, hi_step):
            i = int(np.searchsorted(steps, a, side="left"))
            j = int(np.searchsorted(steps, b, side="left"))
            yield steps[i:j], self.rec.trace(ch.variable, ch.layer, window=(a, b), recorder=ch.recorder)

    # -- time structure --------------------------------------------------------------------------
    def spans(self, recorder: str) -> list:
        """The recorder's unbroken stretches of samples, split where a declared window changes."""
        ix = self.index(recorder)
        steps, counts = ix["step"], ix["image_count"]
        if not len(steps):
            return []
        info = self._contents[recorder]
        every = info["every"]
        names = list(info["windows"])
        window_of = np.full(len(steps), -1)
        for k, name in enumerate(names):
            a, b = info["windows"][name]
            window_of[(counts >= a) & (counts < b) & (window_of < 0)] = k
        breaks = np.flatnonzero((np.diff(steps) != every) | (np.diff(window_of) != 0)) + 1
        out = []
        for i, j in zip(np.r_[0, breaks], np.r_[breaks, len(steps)]):
            w = window_of[i]
            out.append(Span(recorder, int(steps[i]), int(steps[j - 1]) + every, names[w] if w >= 0 else ""))
        return out

    def segments(self) -> list:
        """The recorded windows of the whole run: every recorder's spans, overlapping ones merged.

        Returns (start_step, stop_step, name): name is the declared windows it covers (``early``,
        ``late``, ``early+images 0-100``), or ``steps A-B`` where no recorder declared one.
        """
        spans = sorted((s for r in self.recorders() for s in self.spans(r)), key=lambda s: (s.start, s.stop))
        merged = []
        for s in spans:
            if merged and s.start < merged[-1][1]:
                start, stop, names = merged[-1]
                merged[-1] = (start, max(stop, s.stop), names + [s.window] * (s.window not in names))
            else:
                merged.append((s.start, s.stop, [s.window]))
        return [(a, b, "+".join(w for w in n if w) or f"steps {a}-{b - 1}") for a, b, n in merged]

    def steps_per_image(self) -> int | None:
        train = self.model_params().get("train", {})
        n = train.get("steps_per_image") if isinstance(train, dict) else None
        return int(n) if n else None

    def presentations(self) -> dict:
        """The image presentations the recorders saw, one per (stream, image shown), in time order.

        start_step/stop_step: the image's steps [start, stop); with the model's steps_per_image
        the image shown after c images occupies steps c*N+1 .. (c+1)*N. Only training steps are
        recorded (testing runs without recorders), so phase is always "train".
        """
        n = self.steps_per_image()
        rows = {}
        for name in self.recorders():
            ix = self.index(name)
            stream = int(self._group(name).attrs.get("stream", 0))
            every = self._contents[name]["every"]
            counts = ix["image_count"]
            if not len(counts):
                continue
            starts = np.r_[0, np.flatnonzero(np.diff(counts)) + 1]
            ends = np.r_[starts[1:], len(counts)]
            for i, j in zip(starts, ends):
                c = int(counts[i])
                first, last = int(ix["step"][i]), int(ix["step"][j - 1])
                if n and c * n < first and last <= (c + 1) * n:
                    a, b = c * n + 1, (c + 1) * n + 1
                else:      # the model's steps_per_image unknown or not matching: what was sampled
                    a, b = first, last + every
                key = (stream, c)
                if key in rows:
                    old = rows[key]
                    a, b = min(a, old[0]), max(b, old[1])
                rows[key] = (a, b, int(ix["image"][i]), int(ix["label"][i]))
        keys = sorted(rows, key=lambda k: (rows[k][0], k[0]))
        col = lambda i: np.array([rows[k][i] for k in keys], dtype=np.int64)  # noqa: E731
        return {"start_step": col(0), "stop_step": col(1), "image": col(2), "label": col(3),
                "stream": np.array([k[0] for k in keys], dtype=np.int64),
                "image_count": np.array([k[1] for k in keys], dtype=np.int64),
                "phase": np.array(["train"] * len(keys), dtype=object)}

    # -- metadata --------------------------------------------------------------------------------
    def model_params(self) -> dict:
        return self.rec.model_params()

    def run_attrs(self) -> list:
        """The root attributes of each run file (title, experiment, created, status ...), in time order."""
        keep = ("title", "experiment", "created", "status", "message", "model_source", "spikefa_version")
        return [{k: _s(f.attrs[k]) for k in keep if k in f.attrs} for f in self.rec.files]

    def time_meaning(self) -> str:
        return (f"spikefa counts time steps; step k (training steps completed, the first step of a run "
                f"is 1) is exported at k * dt seconds with dt = {self.dt:g} s. Each training image is "
                f"shown for steps_per_image consecutive steps; only training steps were recorded")

    def metadata(self) -> dict:
        """What describes the run in an exported file: parameters, seed, time mapping, sources."""
        params = self.model_params()
        a = self.rec.attrs
        return {
            "exported_by": f"spikefa {__version__}",
            "dt_s": self.dt,
            "time": self.time_meaning(),
            "seed": params.get("seed"),
            "layer_sizes": self.layer_sizes(),
            "n_streams": int(a.get("n_streams", 1)),
            "backend": _s(a.get("backend", "")),
            "mode": _s(a.get("mode", "")),
            "recorders": {name: json.loads(_s(self._group(name).attrs.get("declared", "{}")))
                          for name in self.recorders()},
            "run_files": [{"path": p, **attrs} for p, attrs in zip(self.paths, self.run_attrs())],
            "params": params,
        }

    def title(self) -> str:
        runs = self.run_attrs()
        return runs[0].get("title") or runs[0].get("experiment") or "spikefa run"

    # -- lifetime ----------------------------------------------------------------------------------
    def close(self) -> None:
        self.rec.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
