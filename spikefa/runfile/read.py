"""Opening run files for reading whatever state their writer left them in, and never hanging.

HDF5 marks a file "open for writing" in its superblock while a writer has it, and refuses plain
opens of such a file. A run that dies (SIGKILL, power loss, a full disk) leaves the mark:
- written in SWMR mode (recording runs): SWMR reads are allowed and see every sample up to the
  last flush;
- written without SWMR (runs without recorders, before recorders start, the rate experiments):
  HDF5 refuses even SWMR reads. The data flushed so far is there, so :func:`open_read` reads such
  a file through a view whose superblock has the mark cleared (the job of HDF5's ``h5clear -s``),
  leaving the file itself untouched.
A file whose writer is alive (spikefa's lock, :mod:`spikefa.runlock`) is read live under SWMR, or
refused with a line naming the process when it is not written in SWMR mode.

Damaged files must give one line within seconds: SWMR reads retry a metadata read whose checksum
fails, by default 100 times with growing sleeps per read (a truncated file took minutes), so
reads here retry a few times only; a file shorter than its superblock says is named as truncated.
:func:`recover` rewrites a file left by a dead writer into an ordinary one.
"""

from __future__ import annotations

import contextlib
import os

import h5py

from .. import runlock
from ..errors import DataError, OutputError, one_line
from .hdf5 import ClearedView, Superblock, read_superblock, swmr_read

LIVE_READ_ATTEMPTS = 20      # a live writer may be mid-flush: retry a little
DEAD_READ_ATTEMPTS = 2       # nobody will finish the write: a bad checksum is damage


# -- opening -----------------------------------------------------------------------------------
def open_read(path: str) -> h5py.File:
    """Open a run file for reading: finished, live (SWMR), or left by a dead writer.

    Raises OutputError (missing path) or DataError (anything else), on one line naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OutputError(f"{path}: no such run file; give the path of a .h5 file written by spikefa run")
    try:
        sb = read_superblock(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({one_line(exc.strerror or exc)})") from None
    return _open(path, sb, runlock.writer_of(path))


def _open(path: str, sb: Superblock | None, writer: dict | None) -> h5py.File:
    size = os.path.getsize(path)
    try:
        if sb is not None and sb.open_for_write:
            if sb.swmr:
                return swmr_read(path, LIVE_READ_ATTEMPTS if writer else DEAD_READ_ATTEMPTS)
            if writer:
                raise DataError(f"{path}: is being written by {runlock.describe(writer)} without SWMR (a run "
                                f"without recorders); read it when that run has ended")
            return h5py.File(ClearedView(path, sb), "r")
        if sb is not None and sb.version >= 3 and size < sb.eof:
            # cut short (a full disk): HDF5 refuses a plain open, a SWMR read sees what is there
            return swmr_read(path, DEAD_READ_ATTEMPTS)
        return h5py.File(path, "r", locking=False)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: {_what_is_wrong(exc, sb, size)}") from None


def _what_is_wrong(exc, sb, size) -> str:
    why = one_line(exc)
    if sb is not None and size < sb.eof:
        return (f"truncated: {size} bytes of the {sb.eof} its superblock records ({why}); the file was cut "
                f"short (an incomplete copy, or a full disk)")
    return f"damaged or not a run file ({why})"


@contextlib.contextmanager
def reading(path: str):
    """Turn HDF5 errors met while reading an open run file into one-line DataErrors naming it."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        raise DataError(f"{path}: damaged run file ({one_line(exc)})") from None
    except KeyError as exc:
        if "Unable to" not in str(exc):     # h5py's words for an object that cannot be read
            raise
        raise DataError(f"{path}: damaged run file ({one_line(exc)})") from None


def needs_recovery(path: str) -> bool:
    """True when a dead or live writer left ``path`` marked open for writing."""
    try:
        sb = read_superblock(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({one_line(exc)})") from None
    return sb is not None and sb.open_for_write


def recover(path: str) -> bool:
    """Rewrite a file left open by a killed writer into an ordinary HDF5 file; True if it was needed.

    Everything readable (all samples up to the writer's last flush) is copied; a status still
    'running' becomes 'killed'. Refuses (OutputError) a file whose writer is alive.
    """
    if not needs_recovery(path):
        return False
    with runlock.WriterLock(path).acquire("recover"):
        tmp = path + ".recover.tmp"
        try:
            # this process holds the lock now: the file's writer is known to be dead
            with _open(path, read_superblock(path), None) as src, reading(path), \
                    h5py.File(tmp, "w", libver="latest") as dst:
                for k, v in src.attrs.items():
                    dst.attrs[k] = v
                for name in src:
                    src.copy(src[name], dst, name=name)
                status = dst.attrs.get("status")
                if status in ("running", b"running"):
                    dst.attrs["status"] = "killed"
                    dst.attrs["message"] = "the writing process died; data up to its last flush were recovered"
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return True


def open_for_resume(path: str) -> h5py.File:
    """Open an existing run file to continue writing, recovering it first if a killed run left it."""
    recover(path)
    try:
        return h5py.File(path, "r+", libver="latest")
    except OSError as exc:
        raise OutputError(f"{path}: cannot open to continue writing ({one_line(exc)}); resume into a new file") from None


def open_data(path: str) -> h5py.File:
    """:func:`open_read` for readers of a run's data (figures, claims): a missing file is a DataError too."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: run file not found; give the .h5 file a run wrote (spikefa run --out)")
    try:
        return open_read(path)
    except OutputError as exc:
        raise DataError(str(exc)) from None     # open_read names the file and what is wrong with it
