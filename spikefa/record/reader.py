"""Read recordings back as numpy arrays, from finished, live (SWMR) or killed run files.

    with open_run("runs/fig4.h5") as rec:           # or open_run([first.h5, resumed.h5])
        rec.recorders()                             # ['raster', 'traces']
        ix = rec.index("raster")                    # step, image, label, image_count arrays
        r = rec.raster(2, window="early")           # (steps x units) bool, layer 2
        v = rec.trace("V", 1, units=[17])           # (steps x 1) float32
        rec.refresh()                               # see samples written since

Several files (a run and the runs resumed from its checkpoints; ``follow=True`` finds them
through the ``continues`` attribute) are joined in order of their first step: a file's samples at or after the next file's first step are left out, so the joined
recording has no repeat. Windows: None (everything), (first_step, stop_step), or a window the
recorder declared, by name ("early") or number.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ConfigError
from ..runfile import open_read
from .writer import INDEX_FIELDS


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _written_prefix(step_ds, count: int, tail: int = 4096) -> int:
    """How many of the first ``count`` samples were really written.

    A run whose write failed (a full disk) can leave data sets extended past the rows it wrote;
    those rows read as zeros. Steps rise strictly in a sound file, so the samples end where they
    stop rising. Only the tail is read when it is sound, so opening a long run stays cheap.
    """
    if count == 0:
        return 0
    lo = max(0, count - tail - 1)
    steps = step_ds[lo:count]
    if steps[0] > 0 and np.all(np.diff(steps) > 0):
        return count
    steps = step_ds[:count]
    bad = np.flatnonzero((steps <= 0) | np.concatenate([[False], np.diff(steps) <= 0]))
    return int(bad[0]) if len(bad) else count


def open_run(paths, follow: bool = False) -> "RunRecordings":
    """The recordings of a run file, or of several joined (a run and its resumptions).

    follow: also join the files each file names as the one it continues (``continues``
    attribute, written when a run resumes from a checkpoint), as far back as they exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if follow:
        paths = _with_predecessors(paths)
    return RunRecordings(paths)


def _with_predecessors(paths: list) -> list:
    out = list(paths)
    todo = list(paths)
    while todo:
        path = todo.pop()
        with open_read(path) as f:
            prev = _s(f["recordings"].attrs.get("continues", "")) if "recordings" in f else ""
        if prev and not os.path.isabs(prev):
            prev = os.path.join(os.path.dirname(path), prev)
        if prev and os.path.isfile(prev) and not any(os.path.samefile(prev, p) for p in out):
            out.append(prev)
            todo.append(prev)
    return out


class RunRecordings:
    """The recordings of one run, possibly spread over several files (resumed runs)."""

    def __init__(self, paths):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ConfigError("open_run: give at least one run file")
        self.files = []
        try:
            for p in self.paths:
                f = open_read(p)
                self.files.append(f)
                if "recordings" not in f:
                    raise ConfigError(f"{p}: holds no recordings (/recordings); declare recorders in the "
                                      f"model's [record] table")
        except BaseException:
            self.close()
            raise
        order = np.argsort([int(f["recordings"].attrs["first_step"]) for f in self.files], kind="stable")
        self.files = [self.files[i] for i in order]
        self.paths = [self.paths[i] for i in order]
        firsts = [int(f["recordings"].attrs["first_step"]) for f in self.files]
        self._stops = firsts[1:] + [None]
        names = [self._names(f) for f in self.files]
        for p, n in zip(self.paths[1:], names[1:]):
            if n != names[0]:
                raise ConfigError(f"{p}: holds recorders {n}, {self.paths[0]} holds {names[0]}; join only "
                                  f"files of one run")
        self._counts = {}
        self.refresh()

    @staticmethod
    def _names(f):
        return [_s(x) for x in f["recordings"].attrs["recorders"]]

    # -- what is there -------------------------------------------------------------------------
    @property
    def attrs(self) -> dict:
        """Attributes of /recordings in the first file (version, step meaning, model parameters ...)."""
        return {k: (_s(v) if isinstance(v, bytes) else v) for k, v in self.files[0]["recordings"].attrs.items()}

    def model_params(self) -> dict:
        raw = self.files[0]["recordings"].attrs.get("model_params")
        return json.loads(_s(raw)) if raw is not None else {}

    def recorders(self) -> list[str]:
        return self._names(self.files[0])

    def contents(self) -> dict:
        """{recorder: {"layers": {layer: {"units": array, "variables": [...]}}, "samples": n, ...}}."""
        out = {}
        for name in self.recorders():
            g = self.files[0]["recordings"][name]
            layers = {}
            for layer in g.attrs["layers"]:
                lg = g[f"layer{int(layer)}"]
                layers[int(layer)] = {"units": lg["units"][()], "layer_size": int(lg.attrs["layer_size"]),
                                      "variables": [_s(v) for v in lg.attrs["variables"]]}
            out[name] = {"layers": layers, "every": int(g.attrs["every"]),
                         "windows": {_s(n): tuple(int(x) for x in w)
                                     for n, w in zip(g.attrs["window_names"], g.attrs["windows"])},
                         "samples": len(self.index(name)["step"])}
        return out

    def refresh(self) -> None:
        """See the samples a live writer flushed since the file was opened or last refreshed (SWMR).

        Every read between two refreshes sees the same samples: the number of samples is taken
        from ``step`` here, and the writer appends each sample's data before its step.
        """
        for i, f in enumerate(self.files):
            for name in self._names(f):
                g = f["recordings"][name]
                step = g["step"]
                self._refresh(step)
                count = step.shape[0]
                for field in INDEX_FIELDS[1:]:
                    self._refresh(g[field])
                    count = min(count, g[field].shape[0])
                for layer_group in g.values():
                    if not hasattr(layer_group, "values"):
                        continue
                    for node in layer_group.values():
                        if hasattr(node, "refresh"):
                            self._refresh(node)
                            if node.maxshape[0] is None:     # one row per sample (not units)
                                count = min(count, node.shape[0])
                        else:                                # spike events
                            for ds in node.values():
                                self._refresh(ds)
                self._counts[i, name] = _written_prefix(step, count)

    @staticmethod
    def _refresh(ds):
        try:
            ds.refresh()
        except (ValueError, RuntimeError, OSError):
            pass   # not opened in SWMR mode: nothing can change

    # -- selection -----------------------------------------------------------------------------
    def _pick(self, layer: int, var: str, recorder: str | None) -> str:
        names = self.recorders()
        if recorder is not None:
            if recorder not in names:
                raise ConfigError(f"no recorder {recorder!r}; recorded: {', '.join(names)}")
            g = self.files[0]["recordings"][recorder]
            if f"layer{layer}" not in g or var not in g[f"layer{layer}"]:
                raise ConfigError(f"recorder {recorder!r} did not record {var!r} in layer {layer}; "
                                  f"see contents()")
            return recorder
        having = [n for n in names if f"layer{layer}" in self.files[0]["recordings"][n]
                  and var in self.files[0]["recordings"][n][f"layer{layer}"]]
        if not having:
            raise ConfigError(f"{var!r} of layer {layer} was not recorded; see contents() for what was")
        if len(having) > 1:
            raise ConfigError(f"{var!r} of layer {layer} was recorded by {', '.join(having)}; pass recorder=")
        return having[0]

    def _segments(self, name: str, window):
        """Per file: (group, lo, hi) rows of the samples in ``window`` (joined without repeats)."""
        segs = []
        for i, (f, stop) in enumerate(zip(self.files, self._stops)):
            g = f["recordings"][name]
            steps = g["step"][:self._counts[i, name]]
            hi = len(steps) if stop is None else int(np.searchsorted(steps, stop, side="left"))
            lo = 0
            if window is not None:
                key, a, b = self._window(g, window)
                col = steps if key == "step" else self._read(g[key], 0, len(steps))
                lo = max(lo, int(np.searchsorted(col, a, side="left")))
                hi = min(hi, int(np.searchsorted(col, b, side="left")))
            segs.append((g, lo, max(lo, hi)))
        return segs

    @staticmethod
    def _window(g, window):
        if isinstance(window, (str, int, np.integer)) and not isinstance(window, bool):
            names = [_s(n) for n in g.attrs["window_names"]]
            wins = g.attrs["windows"]
            if isinstance(window, str):
                if window not in names:
                    raise ConfigError(f"no window {window!r} in this recorder; declared: {', '.join(names) or 'none'}")
                k = names.index(window)
            else:
                k = int(window)
                if not 0 <= k < len(names):
                    raise ConfigError(f"no window {k}; this recorder declared {len(names)}")
            return "image_count", int(wins[k][0]), int(wins[k][1])
        try:
            a, b = window
        except (TypeError, ValueError):
            raise ConfigError(f"window {window!r}: expected None, (first_step, stop_step), or a declared "
                              f"window's name or number") from None
        return "step", int(a), int(b)

    @staticmethod
    def _read(ds, lo, hi):
        hi = min(hi, ds.shape[0])
        return ds[lo:hi]

    # -- arrays --------------------------------------------------------------------------------
    def index(self, recorder: str | None = None, window=None) -> dict:
        """Step, image, label and image_count of each recorded sample, as int64 arrays."""
        if recorder is None:
            names = self.recorders()
            if len(names) != 1:
                raise ConfigError(f"several recorders ({', '.join(names)}); pass recorder=")
            recorder = names[0]
        elif recorder not in self.recorders():
            raise ConfigError(f"no recorder {recorder!r}; recorded: {', '.join(self.recorders())}")
        parts = {f: [] for f in INDEX_FIELDS}
        for g, lo, hi in self._segments(recorder, window):
            for f in INDEX_FIELDS:
                parts[f].append(self._read(g[f], lo, hi))
        n = min(sum(len(p) for p in parts[f]) for f in INDEX_FIELDS)
        return {f: np.concatenate(parts[f])[:n] for f in INDEX_FIELDS}

    def units(self, layer: int, recorder: str | None = None, var: str = "spikes") -> np.ndarray:
        name = self._pick(layer, var, recorder)
        return self.files[0]["recordings"][name][f"layer{layer}"]["units"][()]

    def raster(self, layer: int, window=None, recorder: str | None = None) -> np.ndarray:
        """Spikes of a layer: (recorded steps x recorded units) bool."""
        name = self._pick(layer, "spikes", recorder)
        node = self.files[0]["recordings"][name][f"layer{layer}"]["spikes"]
        if _s(node.attrs["encoding"]) == "float32":
            raise ConfigError(f"layer {layer} was recorded in rate mode: spikes are rates; use "
                              f"trace('spikes', {layer})")
        return self._matrix(name, layer, "spikes", window, None).astype(bool)

    def trace(self, var: str, layer: int, units=None, window=None, recorder: str | None = None) -> np.ndarray:
        """A variable of a layer: (recorded steps x units) float32; units = unit indices in the layer
        (default: every recorded unit, in the order of units())."""
        name = self._pick(layer, var, recorder)
        cols = None
        if units is not None:
            recorded = self.files[0]["recordings"][name][f"layer{layer}"]["units"][()]
            where = {int(u): j for j, u in enumerate(recorded)}
            units = np.atleast_1d(np.asarray(units, dtype=np.int64))
            missing = [int(u) for u in units if int(u) not in where]
            if missing:
                raise ConfigError(f"units {missing} of layer {layer} were not recorded by {name!r}; recorded "
                                  f"units: {_short(recorded)}")
            cols = np.array([where[int(u)] for u in units], dtype=np.intp)
        return self._matrix(name, layer, var, window, cols).astype(np.float32, copy=False)

    def _matrix(self, name, layer, var, window, cols):
        blocks = []
        for g, lo, hi in self._segments(name, window):
            lg = g[f"layer{layer}"]
            node = lg[var]
            k = int(lg["units"].shape[0])
            encoding = _s(node.attrs["encoding"])
            if encoding == "events":
                steps = self._read(g["step"], lo, hi)
                m = np.zeros((len(steps), k), dtype=np.uint8)
                if len(steps):
                    ev_ds, unit_ds = node["step"], node["unit"]
                    n_ev = min(ev_ds.shape[0], unit_ds.shape[0])
                    e0 = _bisect(ev_ds, n_ev, int(steps[0]))
                    e1 = _bisect(ev_ds, n_ev, int(steps[-1]) + 1)
                    ev_steps, ev_units = ev_ds[e0:e1], unit_ds[e0:e1]
                    rows = np.searchsorted(steps, ev_steps)
                    ok = steps[np.minimum(rows, len(steps) - 1)] == ev_steps
                    recorded = lg["units"][()]
                    order = np.argsort(recorded)
                    col = order[np.searchsorted(recorded[order], ev_units[ok])]
                    m[rows[ok], col] = 1
                data = m
            elif encoding == "packbits":
                data = np.unpackbits(self._read(node, lo, hi), axis=1, count=k)
            else:
                data = self._read(node, lo, hi)
            blocks.append(data if cols is None else data[:, cols])
        width = blocks[0].shape[1] if blocks else 0
        return np.concatenate(blocks) if blocks else np.zeros((0, width), np.float32)

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        for f in self.files:
            if f.id.valid:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _bisect(ds, n: int, value: int) -> int:
    """First position in the sorted on-disk ``ds[:n]`` holding ``value`` or more, reading few entries."""
    lo, hi = 0, n
    while hi - lo > 4096:
        mid = (lo + hi) // 2
        if int(ds[mid]) < value:
            lo = mid + 1
        else:
            hi = mid
    return lo + int(np.searchsorted(ds[lo:hi], value, side="left"))


def _short(a) -> str:
    a = np.asarray(a).tolist()      # plain ints: [782], not [np.int64(782)]
    return str(a) if len(a) <= 12 else str(a[:12])[:-1] + ", ...]"
