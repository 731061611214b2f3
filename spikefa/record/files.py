"""Opening run files that a killed run left in SWMR-write state.

A process killed while writing in SWMR mode leaves the file's "open for writing" flag set: HDF5
then refuses plain opens (``h5py.File(path, "r")``) but allows SWMR reads, which see every sample
up to the last flush. :func:`open_read` always opens that way; :func:`recover` rewrites such a
file into an ordinary one (the job of HDF5's ``h5clear -s``, which is not always installed).
"""

from __future__ import annotations

import os

import h5py

from ..errors import OutputError


def open_read(path: str) -> h5py.File:
    """Open a run file for reading: live, finished or killed."""
    if not os.path.isfile(path):
        raise OutputError(f"{path}: no such run file; give the path of a .h5 file written by spikefa run")
    try:
        return h5py.File(path, "r", libver="latest", swmr=True)
    except OSError:
        try:
            return h5py.File(path, "r")
        except OSError as exc:
            raise OutputError(f"{path}: cannot be read as an HDF5 run file ({exc})") from None


def needs_recovery(path: str) -> bool:
    try:
        h5py.File(path, "r").close()
        return False
    except OSError:
        open_read(path).close()   # raises when the file is not readable at all
        return True


def recover(path: str) -> bool:
    """Rewrite a file left open by a killed writer into an ordinary HDF5 file; True if it was needed.

    Everything readable (all samples up to the writer's last flush) is copied; a status still
    'running' becomes 'killed'.
    """
    if not needs_recovery(path):
        return False
    tmp = path + ".recover.tmp"
    with open_read(path) as src, h5py.File(tmp, "w", libver="latest") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name in src:
            src.copy(src[name], dst, name=name)
        status = dst.attrs.get("status")
        if status in ("running", b"running"):
            dst.attrs["status"] = "killed"
            dst.attrs["message"] = "the writing process died; data up to its last flush were recovered"
    os.replace(tmp, path)
    return True


def open_for_resume(path: str) -> h5py.File:
    """Open an existing run file to continue writing, recovering it first if a killed run left it."""
    recover(path)
    try:
        return h5py.File(path, "r+", libver="latest")
    except OSError as exc:
        raise OutputError(f"{path}: cannot open to continue writing ({exc}); resume into a new file") from None
