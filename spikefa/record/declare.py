"""Recorder declarations: what to record (layers, units, variables, steps), checked before a run.

A recorder is declared, never coded into the loop: in a model file as ``[[record.recorders]]``
tables under the experiment's ``record`` table (schema :data:`RECORD_SCHEMA`), or in Python as
:class:`Recorder` objects. :func:`resolve_recorders` turns declarations into concrete unit
indices and image windows for one network, refusing anything the network cannot supply with a
:class:`ConfigError` before the first step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..config import Field, resolve
from ..errors import ConfigError

VARIABLES = ("spikes", "V", "U", "mod", "error")
VARIABLE_MEANING = {
    "spikes": "spikes s_l(t) (0/1; in rate mode the rate sigma(V_l))",
    "V": "forward PSP V_l(t)",
    "U": "feedback potential U_l(t)",
    "mod": "modulatory signal phi_d(U_l(t))",
    "error": "output error neurons U_L(t)",
}
SPIKE_FORMATS = ("bits", "events")
# where a named window sits in the run: its first image is this fraction of the way through
NAMED_WINDOWS = {"early": 0.0, "middle": 0.5, "late": 1.0}

RECORDER_SCHEMA = {
    "name": Field("", "str", "group under /recordings (default rec<i>)"),
    "layers": Field("all", "any", "layer numbers (1 = first hidden, L = output, 0 = input spikes), "
                                  "or 'all', 'hidden', 'output'"),
    "units": Field("all", "any", "'all', an integer k (k random units per layer, drawn with seed), "
                                 "or a list of unit indices"),
    "seed": Field(0, "int", "seed of the random choice of units", min=0),
    "variables": Field(["spikes"], "list[str]", "what to record", choices=VARIABLES, min_len=1),
    "every": Field(1, "int", "record every k-th time step (counted from step 0, so resumed runs "
                             "keep the same steps)", min=1),
    "windows": Field([], "any", "image windows: [[first, stop], ...] in images presented to each stream, "
                                "or names 'early', 'middle', 'late'; empty: the whole run"),
    "window_images": Field(100, "int", "length in images (of each stream) of each named window (in a "
                                       "run shorter than the named windows end to end, its images "
                                       "shared out among them)", min=1),
    "spike_format": Field("bits", "str", "spikes as packed bits (one bit per unit-step) or as "
                                         "event lists (sparse firing)", choices=SPIKE_FORMATS),
    "stream": Field(0, "int", "which parallel input stream to record", min=0),
}

RECORD_SCHEMA = {
    "flush_interval_s": Field(1.0, "float", "write recordings to disk at least this often (seconds); "
                                            "a killed run keeps everything up to the last flush",
                              min=0.0, min_exclusive=True, max=3600),
    "block_steps": Field(256, "int", "recorded steps buffered in memory (and on the GPU) between writes",
                         min=1, max=65536),
    "recorders": Field([], "any", "[[record.recorders]] tables (keys: " + ", ".join(RECORDER_SCHEMA)
                                  + "); none: record nothing"),
}


@dataclass
class Recorder:
    """One recorder: the same keys as a ``[[record.recorders]]`` table."""

    name: str = ""
    layers: Any = "all"
    units: Any = "all"
    seed: int = 0
    variables: list = field(default_factory=lambda: ["spikes"])
    every: int = 1
    windows: Any = field(default_factory=list)
    window_images: int = 100
    spike_format: str = "bits"
    stream: int = 0

    @classmethod
    def from_table(cls, table: dict, source: str = "<record>", index: int = 0) -> "Recorder":
        prefix = f"record.recorders[{index}]."
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: key 'record.recorders[{index}]' must be a table "
                              f"([[record.recorders]] in a model file)")
        values = resolve(RECORDER_SCHEMA, table, source, prefix)
        rec = cls(**values)
        rec.check_shape(source, prefix)
        return rec

    def as_table(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check_shape(self, source: str, prefix: str) -> None:
        """Checks that need no network: the forms of layers, units and windows."""
        def bad(key, expected):
            raise ConfigError(f"{source}: key '{prefix}{key}' = {getattr(self, key)!r}: expected {expected}")

        layers = self.layers
        if not (layers in ("all", "hidden", "output") or
                (isinstance(layers, list) and layers and all(_is_int(x) for x in layers))):
            bad("layers", "a list of layer numbers, or 'all', 'hidden', 'output'")
        units = self.units
        if not (units == "all" or (_is_int(units) and units >= 1) or
                (isinstance(units, list) and units and all(_is_int(x) and x >= 0 for x in units))):
            bad("units", "'all', a number of random units >= 1, or a list of unit indices >= 0")
        if isinstance(units, list) and len(set(units)) != len(units):
            bad("units", "unit indices without repeats")
        for v in self.variables:
            if v not in VARIABLES:
                bad("variables", "a list of " + ", ".join(VARIABLES))
        if not _is_int(self.every) or self.every < 1:
            bad("every", "an integer >= 1")
        if self.spike_format not in SPIKE_FORMATS:
            bad("spike_format", "one of " + ", ".join(SPIKE_FORMATS))
        if not isinstance(self.windows, list):
            bad("windows", "a list of [first, stop] image counts or names early, middle, late")
        for w in self.windows:
            if isinstance(w, str):
                if w not in NAMED_WINDOWS:
                    bad("windows", "names among " + ", ".join(NAMED_WINDOWS) + " or [first, stop] pairs")
            elif not (isinstance(w, list) and len(w) == 2 and all(_is_int(x) and x >= 0 for x in w)
                      and w[0] < w[1]):
                bad("windows", "[first, stop] pairs of image counts with 0 <= first < stop")
        if not _is_int(self.window_images) or self.window_images < 1:
            bad("window_images", "an integer >= 1")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def parse_record_params(record_params: dict | None, source: str = "<record>") -> tuple[list[Recorder], dict]:
    """The ``record`` table (resolved or raw) -> (recorders, options {flush_interval_s, block_steps})."""
    params = resolve(RECORD_SCHEMA, dict(record_params or {}), source, "record.")
    recs = params["recorders"]
    if not isinstance(recs, list):
        raise ConfigError(f"{source}: key 'record.recorders' must be a list of tables "
                          f"([[record.recorders]] in a model file)")
    recorders = [r if isinstance(r, Recorder) else Recorder.from_table(r, source, i) for i, r in enumerate(recs)]
    options = {"flush_interval_s": params["flush_interval_s"], "block_steps": params["block_steps"]}
    return recorders, options


@dataclass
class ResolvedRecorder:
    """A recorder made concrete for one network."""

    name: str
    layers: list                   # layer numbers
    units: dict                    # layer -> np.ndarray of unit indices, or None for all units
    layer_sizes: dict              # layer -> number of units in that layer
    variables: dict                # layer -> variables recorded in that layer (order as declared)
    every: int
    windows: np.ndarray            # (k, 2) int64 [first, stop) in images presented; empty: whole run
    window_names: list             # names of the windows ("early" or "images 0-100")
    spike_format: str
    stream: int
    selection: str                 # how units were chosen, for the attributes
    declared: dict                 # the declaration as given


def resolve_recorders(recorders: list[Recorder], layer_sizes: list[int], *, n_streams: int = 1,
                      total_images: int | None = None, source: str = "<record>") -> list[ResolvedRecorder]:
    """Check declarations against a network with ``layer_sizes`` (input first) -> concrete recorders.

    ``total_images`` (images the run will present to each stream) places the named windows
    early/middle/late; each is ``window_images`` long, or ``total_images`` // (named windows) when the
    run is shorter than the named windows end to end.
    """
    n_layers = len(layer_sizes) - 1
    out, names = [], set()
    for i, rec in enumerate(recorders):
        prefix = f"record.recorders[{i}]."
        rec.check_shape(source, prefix)
        name = rec.name or f"rec{i}"
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{source}: key '{prefix}name' = {name!r}: expected letters, digits, '_' or '-'")
        if name in names:
            raise ConfigError(f"{source}: key '{prefix}name' = {name!r}: two recorders share this name; "
                              f"give each a different name")
        names.add(name)

        def bad(key, value, expected):
            raise ConfigError(f"{source}: key '{prefix}{key}' = {value!r}: {expected}")

        if rec.layers == "all":
            layers = list(range(1, n_layers + 1))
        elif rec.layers == "hidden":
            layers = list(range(1, n_layers))
        elif rec.layers == "output":
            layers = [n_layers]
        else:
            layers = [int(x) for x in rec.layers]
            for layer in layers:
                if not 0 <= layer <= n_layers:
                    bad("layers", layer, f"layer out of range; this network has layers 0 (input) to "
                                         f"{n_layers} (output)")
            if len(set(layers)) != len(layers):
                bad("layers", rec.layers, "a layer is listed twice")
        if rec.stream >= n_streams:
            bad("stream", rec.stream, f"stream out of range; this run has {n_streams} stream(s), 0 to {n_streams - 1}")

        variables = {}
        for layer in layers:
            vs = [v for v in rec.variables if not (v == "error" and layer != n_layers)]
            if layer == 0:
                vs = [v for v in vs if v == "spikes"]
            variables[layer] = vs
        if "error" in rec.variables and n_layers not in layers:
            bad("variables", rec.variables, f"'error' exists only in the output layer {n_layers}; add it "
                                            f"to layers or drop 'error'")
        if 0 in layers and "spikes" not in rec.variables:
            bad("layers", rec.layers, "layer 0 (input) has only 'spikes'; add 'spikes' to variables")
        for layer in layers:
            if not variables[layer]:
                bad("layers", layer, f"none of {rec.variables} exists in layer {layer}")

        units, sizes = {}, {}
        if rec.units == "all":
            selection = "all"
        elif isinstance(rec.units, list):
            selection = "list"
        else:
            selection = f"random {rec.units} per layer, seed {rec.seed}"
        for layer in layers:
            n = int(layer_sizes[layer])
            sizes[layer] = n
            if rec.units == "all":
                units[layer] = None
            elif isinstance(rec.units, list):
                idx = np.asarray(rec.units, dtype=np.int64)
                if idx.max() >= n:
                    bad("units", int(idx.max()), f"unit index out of range for layer {layer}, which has "
                                                 f"{n} units (0 to {n - 1})")
                units[layer] = idx
            else:
                k = int(rec.units)
                if k > n:
                    bad("units", k, f"more random units than layer {layer} has ({n}); use at most {n} or 'all'")
                # per-layer generator: adding a layer to a recorder does not change another layer's units
                gen = np.random.default_rng([rec.seed, layer])
                units[layer] = np.sort(gen.choice(n, size=k, replace=False)).astype(np.int64)

        windows, window_names = [], []
        named = sum(isinstance(w, str) for w in rec.windows)
        for w in rec.windows:
            if isinstance(w, str):
                if total_images is None:
                    bad("windows", w, "named windows need the run's length in images; give [first, stop] "
                                      "image counts instead")
                if total_images < named:
                    bad("windows", rec.windows, f"{named} named windows need at least {named} images per "
                                                f"stream, and this run presents {total_images}; present more "
                                                f"images or name fewer windows")
                # a run shorter than its named windows end to end shares itself out among them
                length = min(rec.window_images, total_images // named)
                first = int(round(NAMED_WINDOWS[w] * (total_images - length)))
                windows.append((first, first + length))
                window_names.append(w)
            else:
                windows.append((int(w[0]), int(w[1])))
                window_names.append(f"images {w[0]}-{w[1]}")
        order = np.argsort([a for a, _ in windows], kind="stable") if windows else []
        windows = [windows[j] for j in order]
        window_names = [window_names[j] for j in order]
        for (a0, b0), (a1, _) in zip(windows, windows[1:]):
            if a1 < b0:
                bad("windows", rec.windows, "windows overlap; make them disjoint")
        out.append(ResolvedRecorder(
            name=name, layers=layers, units=units, layer_sizes=sizes, variables=variables, every=rec.every,
            windows=np.asarray(windows, dtype=np.int64).reshape(-1, 2), window_names=window_names,
            spike_format=rec.spike_format, stream=rec.stream, selection=selection, declared=rec.as_table()))
    return out
