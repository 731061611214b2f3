"""Recordings as a Neo Block (for Elephant and the other Neo tools), saved with one of Neo's IOs.

One Segment per recorded window (the recorders' windows, e.g. early/middle/late, overlapping
ones merged). In each: a SpikeTrain per recorded unit (seconds; annotations layer, unit,
stream, recorder), an AnalogSignal per recorded (layer, variable) with one channel per unit
(dimensionless; annotations layer, variable, stream, recorder; array annotation ``unit``),
an IrregularlySampledSignal instead where a recorder's samples are not evenly spaced, and an
Epoch of the image presentations (labels: class label; array annotations image, label, phase,
stream). Neo keeps a Block in memory, so this export holds the recorded windows at once; NWB and
SONATA exports stream.

The file format follows the destination's suffix: ``.pkl`` (the default; Neo's PickleIO: a
Figure 4 recording, about 6000 spike trains, in a fraction of a second; read it back with the
same major version of neo) or ``.nix`` (NixIO: portable across versions and languages, but
about 10 ms and 25 KB per spike train, so a Figure 4 recording takes about a minute).
"""

from __future__ import annotations

import json

import numpy as np

from ...errors import ConfigError
from .destination import require
from .source import RecordingSource

SUFFIXES = (".pkl", ".nix")


def block(src: RecordingSource):
    """The recordings as a neo.Block (in memory)."""
    neo = require("neo", "neo")
    pq = require("quantities", "neo")
    meta = src.metadata()
    blk = neo.Block(name=src.title(), description=src.time_meaning(), file_origin=", ".join(src.paths),
                    dt_s=src.dt, seed=-1 if meta["seed"] is None else int(meta["seed"]),
                    layer_sizes=np.array(meta["layer_sizes"], dtype=np.int64), mode=meta["mode"],
                    backend=meta["backend"], exported_by=meta["exported_by"],
                    params=json.dumps(meta["params"]))
    presentations = src.presentations()
    for start, stop, name in src.segments():
        seg = neo.Segment(name=name, description=f"steps [{start}, {stop})", window=name,
                          start_step=int(start), stop_step=int(stop))
        for ch in src.spike_channels:
            _add_spike_trains(seg, src, ch, start, stop, neo, pq)
        for ch in src.trace_channels:
            _add_signal(seg, src, ch, start, stop, neo, pq)
        _add_presentations(seg, src, presentations, start, stop, neo, pq)
        seg.block = blk
        blk.segments.append(seg)
    return blk


def check_out(out: str) -> None:
    if not out.endswith(SUFFIXES):
        raise ConfigError(f"{out}: a Neo export is written as .pkl (Neo's PickleIO) or .nix (NixIO); end --out "
                          f"with one of them")


def write(src: RecordingSource, path: str) -> None:
    neo = require("neo", "neo")
    if path.endswith(".nix"):
        require("nixio", "neo")
        blk = block(src)
        io = neo.io.NixIO(path, mode="ow")
        try:
            io.write_block(blk)
        finally:
            io.close()
    else:
        neo.io.PickleIO(path).write_block(block(src))


def _coverage(src, recorder, start, stop):
    """Steps [a, b) within [start, stop) that the recorder sampled, or None."""
    parts = [(max(s.start, start), min(s.stop, stop)) for s in src.spans(recorder) if s.start < stop and s.stop > start]
    if not parts:
        return None
    return min(p[0] for p in parts), max(p[1] for p in parts)


def _add_spike_trains(seg, src, ch, start, stop, neo, pq):
    cover = _coverage(src, ch.recorder, start, stop)
    if cover is None:
        return
    t0, t1 = src.time(cover[0]) * pq.s, src.time(cover[1]) * pq.s
    for unit, steps in zip(ch.units, src.spike_steps_per_unit(ch, start, stop)):
        st = neo.SpikeTrain(src.time(steps), units="s", t_start=t0, t_stop=t1,
                            name=f"{ch.recorder} layer{ch.layer} unit{int(unit)}",
                            layer=ch.layer, unit=int(unit), stream=ch.stream, recorder=ch.recorder)
        st.segment = seg
        seg.spiketrains.append(st)


def _add_signal(seg, src, ch, start, stop, neo, pq):
    steps, blocks = [], []
    for s, values in src.trace_blocks(ch, start, stop):
        steps.append(s)
        blocks.append(values)
    if not steps or not sum(len(s) for s in steps):
        return
    steps, values = np.concatenate(steps), np.concatenate(blocks)
    common = dict(name=ch.name, units=pq.dimensionless, array_annotations={"unit": np.asarray(ch.units)},
                  layer=ch.layer, variable=ch.variable, stream=ch.stream, recorder=ch.recorder)
    if len(steps) == 1 or np.all(np.diff(steps) == ch.every):
        sig = neo.AnalogSignal(values, sampling_period=ch.every * src.dt * pq.s,
                               t_start=src.time(steps[0]) * pq.s, **common)
        seg.analogsignals.append(sig)
    else:
        sig = neo.IrregularlySampledSignal(src.time(steps) * pq.s, values, time_units="s", **common)
        seg.irregularlysampledsignals.append(sig)
    sig.segment = seg


def _add_presentations(seg, src, p, start, stop, neo, pq):
    keep = (p["start_step"] < stop) & (p["stop_step"] > start)
    if not keep.any():
        return
    a, b = p["start_step"][keep], p["stop_step"][keep]
    ep = neo.Epoch(times=src.time(a) * pq.s, durations=src.time(b - a) * pq.s,
                   labels=np.array([str(x) for x in p["label"][keep]]), name="image_presentations",
                   description="images shown: start, duration; label = class label",
                   array_annotations={"image": p["image"][keep], "label": p["label"][keep],
                                      "phase": np.array(p["phase"][keep], dtype=str),
                                      "stream": p["stream"][keep]})
    ep.segment = seg
    seg.epochs.append(ep)
