"""Export a run's recordings to the neuroscience formats: NWB (pynwb), SONATA spikes, Neo (pickle or NIX).

    from spikefa.record.export import export_run, neo_block
    export_run("runs/fig4.h5", to="nwb")                    # -> runs/fig4.nwb (.spikes.h5, .neo.pkl)
    export_run(["a.h5", "b.h5"], to="sonata", dt=1e-4)      # a run and its continuation, one timeline
    blk = neo_block("runs/fig4.h5")                         # a neo.Block in memory, for Elephant

Step k of the run is placed at k * dt seconds (dt = DEFAULT_DT = 1 ms unless given). The
format libraries are optional extras (``pip install "spikefa[nwb]"``, ``[neo]``) imported
only when their format is asked for; SONATA needs only h5py. Output is written under a
temporary name beside the destination and renamed when complete.
"""

from __future__ import annotations

import importlib
import os

from ...errors import ConfigError
from .destination import atomic_output, check_destination
from .source import DEFAULT_DT, RecordingSource

# format -> the default suffix of its files (replacing the run file's .h5)
FORMATS = {"nwb": ".nwb", "sonata": ".spikes.h5", "neo": ".neo.pkl"}


def default_out(paths, to: str) -> str:
    """Beside the last run file: runs/fig4.h5 -> runs/fig4.nwb, runs/fig4.spikes.h5, runs/fig4.neo.pkl."""
    last = os.fspath(paths[-1] if isinstance(paths, (list, tuple)) else paths)
    stem = last[:-3] if last.endswith(".h5") else last
    return stem + FORMATS[to]


def check_format(to: str) -> str:
    if to not in FORMATS:
        raise ConfigError(f"unknown export format {to!r}; use --to {', '.join(FORMATS)}")
    return to


def export_run(paths, to: str, out=None, dt: float = DEFAULT_DT, overwrite: bool = False,
               follow: bool = False) -> str:
    """Write the recordings of a run (a file, or a run and its resumed continuations) as ``to``.

    paths      a run file, or several (joined into one timeline as open_run joins them)
    to         "nwb", "sonata" or "neo"
    out        destination (default: beside the last run file, see :func:`default_out`)
    dt         seconds per time step: step k is exported at k * dt
    overwrite  replace an existing destination
    follow     also join the runs each file continues (its ``continues`` attribute)
    Returns the path written. Raises ConfigError (no recordings, unknown format, missing extra,
    bad dt) or OutputError (destination exists or cannot be written) before writing anything.
    """
    check_format(to)
    _check_libraries(to)
    writer = importlib.import_module(f"{__name__}.{to}")
    inputs = [os.fspath(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    if out is not None and hasattr(writer, "check_out"):
        writer.check_out(os.fspath(out))
    with RecordingSource(inputs, dt=dt, follow=follow) as src:
        dest = check_destination(out or default_out(src.paths, to), src.paths, overwrite)
        with atomic_output(dest) as tmp:
            writer.write(src, tmp)
    return dest


def _check_libraries(to: str) -> None:
    """Fail on a missing extra before anything is read or written."""
    from .destination import require

    for module in {"nwb": ["pynwb"], "neo": ["neo", "quantities"], "sonata": ["h5py"]}[to]:
        require(module, to)


def to_nwb(paths, out=None, **kw) -> str:
    return export_run(paths, "nwb", out, **kw)


def to_sonata(paths, out=None, **kw) -> str:
    return export_run(paths, "sonata", out, **kw)


def to_neo(paths, out=None, **kw) -> str:
    return export_run(paths, "neo", out, **kw)


def neo_block(paths, dt: float = DEFAULT_DT, follow: bool = False):
    """The recordings as a neo.Block in memory (needs the neo extra)."""
    from . import neo as neo_export

    with RecordingSource(paths, dt=dt, follow=follow) as src:
        return neo_export.block(src)


__all__ = ["DEFAULT_DT", "FORMATS", "RecordingSource", "check_format", "default_out", "export_run", "neo_block",
           "to_neo", "to_nwb", "to_sonata"]
