"""What the raster and trace figures need from /recordings: which recorder, which columns.

Columns are the paper's early / middle / late stages: the recorder's declared windows (the first,
middle and last when it declared more than three), or, for a recorder that recorded the whole
run, three equal stretches at its start, middle and end. Each column shows the first few images
of its window so single spikes stay visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from ..errors import DataError
from ..record import open_run
from . import metrics

RASTER_HINT = ("declare recorders in the model's [record] table: [[record.recorders]] name = \"hidden\", "
               "layers = \"hidden\", units = 50, variables = [\"spikes\"], windows = [\"early\", \"middle\", "
               "\"late\"] and the same with name = \"output\", layers = \"output\", units = \"all\"")
TRACES_HINT = ("declare a recorder in the model's [record] table: [[record.recorders]] name = \"traces\", "
               "layers = [1], units = 2, variables = [\"V\", \"mod\"], windows = [\"early\", \"middle\", \"late\"]")


@dataclass
class Column:
    """One stage of learning: the steps [first_step, stop_step) it shows, and its name."""

    name: str
    first_step: int
    stop_step: int
    index: dict          # step, image, label, image_count of its samples


def has_recordings(h5: h5py.File) -> bool:
    return "recordings" in h5 and len(h5["recordings"].attrs.get("recorders", [])) > 0


def open_recordings(run_path: str, hint: str):
    """The run's recordings (spikefa.record reader); DataError with ``hint`` when it has none."""
    with metrics.open_file(run_path) as h5:
        if not has_recordings(h5):
            raise DataError(f"{run_path}: has no recordings (/recordings); {hint}")
    return open_run(getattr(run_path, "chain", None) or run_path)     # a resumed run: its files joined


def recorders_with(rec, var: str) -> dict[str, list[int]]:
    """recorder -> the layers in which it recorded ``var``."""
    out = {}
    for name, info in rec.contents().items():
        layers = sorted(layer for layer, d in info["layers"].items() if var in d["variables"])
        if layers:
            out[name] = layers
    return out


def columns(rec, name: str, images: int, stages: int = 3) -> list[Column]:
    """Up to ``stages`` columns of at most ``images`` images each from recorder ``name``."""
    info = rec.contents()[name]
    declared = list(info["windows"].items())
    full = rec.index(name)
    if full["step"].size == 0:
        raise DataError(f"recorder {name!r} holds no samples yet; let the run record some steps")
    spans = []
    if declared:
        picks = _spread(len(declared), stages)
        for k in picks:
            label, _ = declared[k]
            ix = rec.index(name, window=label)
            if ix["step"].size:
                spans.append((label, ix))
    else:
        counts = np.unique(full["image_count"])
        picks = _spread(len(counts), stages)
        stage_names = ["early", "middle", "late"] if len(picks) == 3 else [None] * len(picks)
        for k, stage in zip(picks, stage_names):
            # early starts at the first image, late ends at the last, middle is centred
            fraction = k / (len(counts) - 1) if len(counts) > 1 else 0.0
            start = int(round(fraction * max(0, len(counts) - images)))
            chosen = counts[start:start + images]
            sel = np.isin(full["image_count"], chosen)
            spans.append((stage or f"images {chosen[0]}-{chosen[-1] + 1}", {f: v[sel] for f, v in full.items()}))
    out = []
    for label, ix in spans:
        counts = np.unique(ix["image_count"])[:images]
        sel = np.isin(ix["image_count"], counts)
        ix = {f: v[sel] for f, v in ix.items()}
        out.append(Column(name=label, first_step=int(ix["step"][0]), stop_step=int(ix["step"][-1]) + 1, index=ix))
    return out


def _spread(n: int, k: int) -> list[int]:
    """k indices spread over 0..n-1 (first, middle, last for k = 3), without repeats."""
    if n <= k:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)}) if k > 1 else [0]


def image_bounds(index: dict) -> list[tuple[int, int, int, int]]:
    """[(first step, stop step, label, image index)] for each image shown in a column."""
    counts = index["image_count"]
    change = np.flatnonzero(np.diff(counts)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [counts.size]])
    steps = index["step"]
    out = []
    for a, b in zip(starts, stops):
        stop = int(steps[b]) if b < steps.size else int(steps[b - 1]) + 1
        out.append((int(steps[a]), stop, int(index["label"][a]), int(index["image"][a])))
    return out


def units_per_class(rec) -> int | None:
    """Output units per class, from the model parameters stored with the recordings."""
    params = rec.model_params()
    if not params:
        return None
    for key in ("units_per_class",):
        found = _find_key(params, key)
        if found is not None:
            return int(found)
    return None


def _find_key(d, key):
    if isinstance(d, str):
        try:
            d = json.loads(d)
        except ValueError:
            return None
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    return None
