"""Several run files as one: a run joined with its resumed continuations, the seeds of several runs
merged into one file, and a finished run rewritten compactly.

Joining a run (no gap, no repeat): each metric is cut, in each file, before the first x value
(examples seen) of the next file that has it. A resumed spiking run copies the curve up to its
checkpoint into its new file, so that file's rows replace the earlier file's; a file that holds
only what came after its checkpoint adds its rows after the earlier file's. /results and /summary
come from the latest file that has them (the end of the run); the root attributes from the last.

Merging seeds: every arm's seed groups of several files become ``/metrics/<name>/seed<k>``,
numbered across the files (:func:`add_seeds`), so the figures draw mean and spread over seeds;
a sweep's joined view (``spikefa.plot.sources.open_sweep``) and :func:`merge_runs` both do it.
"""

from __future__ import annotations

import os
import uuid

import h5py
import numpy as np

from .read import open_data, open_read, reading
from .series import arms, x_axis


def memory_file() -> h5py.File:
    return h5py.File(f"spikefa-joined-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False)


def copy_attrs(src, dst) -> None:
    for k, v in src.attrs.items():
        dst.attrs[k] = v


def _metric_datasets(h5: h5py.File) -> dict[str, h5py.Dataset]:
    """Path below /metrics -> dataset."""
    out = {}
    if "metrics" in h5:
        h5["metrics"].visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset)
                                 else None)
    return out


def _x_of(ds: h5py.Dataset) -> np.ndarray | None:
    """The examples seen of each row of a metric, or None when it has none."""
    x, label = x_axis(ds.parent, ds.name.rsplit("/", 1)[-1])
    return x if label == "examples seen" else None


def join_metrics(files: list[h5py.File], dst: h5py.Group) -> None:
    """/metrics of ``files`` (oldest first) joined into ``dst`` (module doc: no gap, no repeat)."""
    per_file = [_metric_datasets(f) for f in files]
    names = []
    for found in per_file:
        names += [n for n in found if n not in names]
    for name in names:
        parts, xs = [], []
        for found in per_file:
            ds = found.get(name)
            if ds is not None and ds.shape[0] > 0:
                parts.append(ds)
                xs.append(_x_of(ds))
        if not parts:
            ds = next(found[name] for found in per_file if name in found)
            out = dst.create_dataset(name, data=ds[()])
            copy_attrs(ds, out)
            continue
        rows = []
        for i, ds in enumerate(parts):
            data = ds[()]
            if i + 1 < len(parts) and xs[i] is not None and xs[i + 1] is not None and xs[i + 1].size:
                data = data[xs[i] < xs[i + 1][0]]
            rows.append(data)
        out = dst.create_dataset(name, data=np.concatenate(rows, axis=0))
        copy_attrs(parts[-1], out)
    for found in per_file:                    # group attributes (arms may carry some)
        for name, ds in found.items():
            parent = name.rsplit("/", 1)[0] if "/" in name else ""
            if parent and parent in dst:
                copy_attrs(ds.parent, dst[parent])


def _skeleton(src: h5py.Group, dst: h5py.Group) -> None:
    """Groups and attributes of ``src`` with empty datasets: enough for a figure kind to see what was
    recorded (the recordings themselves are read from the files, by open_run)."""
    copy_attrs(src, dst)
    for key, value in src.items():
        if isinstance(value, h5py.Group):
            _skeleton(value, dst.create_group(key))
        elif isinstance(value, h5py.Dataset):
            shape = (0,) + tuple(value.shape[1:]) if value.ndim else ()
            ds = dst.create_dataset(key, shape=shape, dtype=value.dtype)
            copy_attrs(value, ds)


def open_chain(paths: list[str]) -> h5py.File:
    """The run files of one run (oldest first) as one in-memory run file."""
    files = []
    try:
        for p in paths:
            files.append(open_data(p))
        dst = memory_file()
        copy_attrs(files[-1], dst)
        dst.attrs["joined_from"] = [os.fspath(p) for p in paths]
        join_metrics(files, dst.require_group("metrics"))
        for name in ("results", "summary", "params"):
            src = next((f for f in reversed(files) if name in f), None)
            if src is not None:
                src.copy(src[name], dst, name)
        rec = next((f for f in files if "recordings" in f), None)
        if rec is not None:
            _skeleton(rec["recordings"], dst.create_group("recordings"))
        return dst
    finally:
        for f in files:
            f.close()


def add_seeds(dst: h5py.File, name: str, src: h5py.File, groups: list, seeds: dict) -> None:
    """Copy the datasets of each of an arm's seed ``groups`` (of ``src``) into ``dst`` as
    ``/metrics/<name>/seed<k>``; ``seeds`` counts the seeds given to each name so far."""
    for g in groups:
        k = seeds.get(name, 0)
        seeds[name] = k + 1
        target = dst.require_group(f"metrics/{name}" if name else "metrics").create_group(f"seed{k}")
        for key, value in g.items():
            if isinstance(value, h5py.Dataset):
                src.copy(value, target, key)


def merge_runs(paths: list[str], out_path: str) -> str:
    """One run file holding every arm and seed of ``paths``, for figures across a whole sweep.

    Each arm's seeds become ``/metrics/<arm>/seed<j>`` (numbered across files); /results and any
    recordings come from the first file; the header attributes from the first file too.
    """
    with h5py.File(out_path, "w") as dst:
        seeds: dict[str, int] = {}
        for i, path in enumerate(paths):
            with open_read(path) as src, reading(path):
                if i == 0:
                    copy_attrs(src, dst)
                    for name in src:
                        if name != "metrics":
                            src.copy(src[name], dst, name)
                for arm, groups in arms(src).items():
                    add_seeds(dst, arm, src, groups, seeds)
    return out_path


def compact_run(path: str, statuses: tuple = ("finished",)) -> bool:
    """Rewrite a finished run file with every dataset stored whole and compressed (atomically).

    Metrics stream into 32 KB chunks while a run goes; a finished Figure 3a run holds a few
    thousand numbers in a dozen such chunks. Compacted, the finished runs of a full report are
    small enough to commit, so a later session on a fresh machine resumes the sweep from them.
    Returns False (and leaves the file) when it is not a finished run or is already compact;
    ``statuses`` may admit others that a run closed cleanly with ("interrupted": stopped by Ctrl-C
    or SIGTERM, its file complete up to the stop), never a live or killed writer's file.
    """
    with open_read(path) as src, reading(path):
        status = src.attrs.get("status", "")
        status = status.decode() if isinstance(status, bytes) else str(status)
        if status not in statuses or status in ("running", "") or src.attrs.get("compacted", False):
            return False
        tmp = path + ".compact"
        with h5py.File(tmp, "w", track_order=True) as dst:
            copy_attrs(src, dst)
            dst.attrs["compacted"] = True

            def copy(name, obj):
                if isinstance(obj, h5py.Group):
                    copy_attrs(obj, dst.create_group(name, track_order=True))
                    return
                data = obj[()]
                big = isinstance(data, np.ndarray) and data.size > 16
                copy_attrs(obj, dst.create_dataset(name, data=data, compression="gzip" if big else None, shuffle=big))
            src.visititems(copy)
    os.replace(tmp, path)
    return True
