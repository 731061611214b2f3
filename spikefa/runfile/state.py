"""What a run file says about its run: status (a killed writer's file reads as "killed"), parameters
and summary rows, read through :func:`spikefa.runfile.read.open_read` whatever state the file is in."""

from __future__ import annotations

import json
import os

from .. import runlock
from ..errors import SpikefaError
from .read import open_read, reading


def json_default(v):
    """``json.dump``'s default for numpy values."""
    if hasattr(v, "item"):          # numpy scalars
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    return str(v)


def jsonable(v):
    """Summary rows as plain Python (numpy scalars -> numbers, NaN kept as float)."""
    return json.loads(json.dumps(v, default=json_default))


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def read_summary(path: str) -> dict:
    """The /summary attributes of a run file ({} when it has none)."""
    with open_read(path) as h5, reading(path):
        if "summary" not in h5:
            return {}
        return {k: _text(v) for k, v in h5["summary"].attrs.items()}


def read_params(path: str) -> dict:
    """The resolved parameters a run file was written with."""
    with open_read(path) as h5, reading(path):
        return json.loads(h5.attrs["params"])


def run_state(path: str) -> tuple[str, dict | None, list]:
    """(status, params, summary rows) of a run file; ("missing", None, []) when unreadable.

    A file left by a killed run (still marked open for writing, status "running", no live
    writer; SWMR or not) reads as "killed", with its parameters: its checkpoint, if any, resumes
    the task.
    """
    if not os.path.isfile(path):
        return "missing", None, []
    try:
        with open_read(path) as h5, reading(path):
            status = h5.attrs.get("status", "")
            params = json.loads(h5.attrs["params"])
            summary = dict(h5["summary"].attrs) if "summary" in h5 else {}
        rows = rows_from_summary_attrs({k: _text(v) for k, v in summary.items()})
    except (SpikefaError, OSError, KeyError, ValueError):
        return "missing", None, []
    status = status.decode() if isinstance(status, bytes) else str(status)
    if status == "running" and runlock.writer_of(path) is None:
        status = "killed"
    return status, params, rows


def run_wall_seconds(path: str) -> float | None:
    """The wall time a finished run file says it took (its summary's wall_time_s); None if it says none."""
    try:
        with open_read(path) as h5, reading(path):
            value = h5["summary"].attrs.get("wall_time_s") if "summary" in h5 else None
        return None if value is None else float(value)
    except (SpikefaError, OSError, KeyError, ValueError, TypeError):
        return None


def rows_from_summary_attrs(attrs: dict) -> list[dict]:
    """Undo the runner's flattening of summary rows ("0.arm", "1.arm" ...; a single row unprefixed)."""
    rows: dict[int, dict] = {}
    single: dict = {}
    for k, v in attrs.items():
        if k == "wall_time_s":
            continue
        head, _, rest = k.partition(".")
        if rest and head.isdigit():
            rows.setdefault(int(head), {})[rest] = v
        else:
            single[k] = v
    out = [rows[i] for i in sorted(rows)]
    if single:
        out.insert(0, single)
    return jsonable(out)
