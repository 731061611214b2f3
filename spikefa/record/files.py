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
import ctypes
import glob
import io
import os
import struct

import h5py

from .. import runlock
from ..errors import DataError, OutputError, one_line

SIGNATURE = b"\x89HDF\r\n\x1a\n"
WRITE_ACCESS, SWMR_WRITE_ACCESS = 0x1, 0x4
LIVE_READ_ATTEMPTS = 20      # a live writer may be mid-flush: retry a little
DEAD_READ_ATTEMPTS = 2       # nobody will finish the write: a bad checksum is damage


# -- the superblock ----------------------------------------------------------------------------
class Superblock:
    """The fields of an HDF5 version 2/3 superblock that tell how a file was left."""

    def __init__(self, offset, version, flags, eof, size_of_offsets, raw):
        self.offset, self.version, self.flags, self.eof = offset, version, flags, eof
        self.size_of_offsets, self.raw = size_of_offsets, raw

    @property
    def open_for_write(self) -> bool:
        return self.version >= 2 and bool(self.flags & WRITE_ACCESS)

    @property
    def swmr(self) -> bool:
        return self.version >= 3 and bool(self.flags & SWMR_WRITE_ACCESS)

    def cleared(self) -> bytes:
        """The superblock's bytes with the open-for-writing marks cleared and the checksum redone."""
        body = bytearray(self.raw[:-4])
        body[11] = 0
        return bytes(body) + struct.pack("<I", lookup3(bytes(body)))


def read_superblock(path: str) -> Superblock | None:
    """The superblock (versions 2 and 3; None for older ones); raises DataError for a non-HDF5 file."""
    with open(path, "rb") as fh:
        for offset in (0, 512, 1024, 2048, 4096):
            fh.seek(offset)
            head = fh.read(12)
            if len(head) < 8:
                break
            if head[:8] != SIGNATURE:
                continue
            version = head[8] if len(head) > 8 else -1
            if version not in (2, 3):
                return None
            O = head[9]
            if O not in (2, 4, 8):
                raise DataError(f"{path}: damaged HDF5 superblock (size of offsets {O}); the file cannot be read")
            fh.seek(offset)
            raw = fh.read(12 + 4 * O + 4)
            if len(raw) < 12 + 4 * O + 4:
                break
            eof = int.from_bytes(raw[12 + 2 * O:12 + 3 * O], "little")
            if struct.unpack("<I", raw[-4:])[0] != lookup3(raw[:-4]):
                raise DataError(f"{path}: damaged HDF5 superblock (checksum mismatch); the file cannot be read")
            return Superblock(offset, version, raw[11], eof, O, raw)
    size = os.path.getsize(path)
    raise DataError(f"{path}: not an HDF5 run file ({'empty' if not size else f'{size} bytes, no HDF5 signature'}); "
                    f"give a .h5 file written by spikefa run")


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``: the checksum HDF5 puts on its metadata."""
    M = 0xFFFFFFFF

    def rot(x, k):
        return ((x << k) | (x >> (32 - k))) & M

    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & M
    i = 0
    while n - i > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & M
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & M
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & M
        a = (a - c) & M; a ^= rot(c, 4); c = (c + b) & M          # noqa: E702 (the mix, as published)
        b = (b - a) & M; b ^= rot(a, 6); a = (a + c) & M          # noqa: E702
        c = (c - b) & M; c ^= rot(b, 8); b = (b + a) & M          # noqa: E702
        a = (a - c) & M; a ^= rot(c, 16); c = (c + b) & M         # noqa: E702
        b = (b - a) & M; b ^= rot(a, 19); a = (a + c) & M         # noqa: E702
        c = (c - b) & M; c ^= rot(b, 4); b = (b + a) & M          # noqa: E702
        i += 12
    if n - i == 0:
        return c
    tail = data[i:] + b"\0" * (12 - (n - i))
    a = (a + int.from_bytes(tail[0:4], "little")) & M
    b = (b + int.from_bytes(tail[4:8], "little")) & M
    c = (c + int.from_bytes(tail[8:12], "little")) & M
    c ^= b; c = (c - rot(b, 14)) & M                               # noqa: E702 (the final mix)
    a ^= c; a = (a - rot(c, 11)) & M                               # noqa: E702
    b ^= a; b = (b - rot(a, 25)) & M                               # noqa: E702
    c ^= b; c = (c - rot(b, 16)) & M                               # noqa: E702
    a ^= c; a = (a - rot(c, 4)) & M                                # noqa: E702
    b ^= a; b = (b - rot(a, 14)) & M                               # noqa: E702
    c ^= b; c = (c - rot(b, 24)) & M                               # noqa: E702
    return c


class _ClearedView(io.RawIOBase):
    """A read-only view of a file in which the superblock's open-for-writing marks are cleared."""

    def __init__(self, path: str, sb: Superblock):
        super().__init__()
        self._fh = open(path, "rb")
        self._patch_at, self._patch = sb.offset, sb.cleared()
        self._pos = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=io.SEEK_SET):
        self._pos = self._fh.seek(pos, whence)
        return self._pos

    def tell(self):
        return self._pos

    def readinto(self, buf):
        self._fh.seek(self._pos)
        n = self._fh.readinto(buf)
        lo, hi = max(self._pos, self._patch_at), min(self._pos + n, self._patch_at + len(self._patch))
        if lo < hi:
            mv = memoryview(buf)
            mv[lo - self._pos:hi - self._pos] = self._patch[lo - self._patch_at:hi - self._patch_at]
        self._pos += n
        return n

    def close(self):
        self._fh.close()
        super().close()


# -- bounded metadata retries ------------------------------------------------------------------
_libhdf5 = None


def _hdf5_library():
    """h5py's own HDF5 (the same library instance), for a setting h5py does not wrap."""
    global _libhdf5
    if _libhdf5 is None:
        here = os.path.dirname(h5py.__file__)
        found = sorted(glob.glob(os.path.join(here, "..", "h5py.libs", "libhdf5-*.so*")) +
                       glob.glob(os.path.join(here, ".dylibs", "libhdf5*.dylib")))
        try:
            lib = ctypes.CDLL(found[0]) if found else ctypes.CDLL(h5py.h5.__file__)
            lib.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
            _libhdf5 = lib
        except (OSError, AttributeError):
            _libhdf5 = False
    return _libhdf5 or None


def _swmr_read(path: str, attempts: int) -> h5py.File:
    try:        # h5py's own settings, so this process may also hold the file open for writing
        from h5py._hl.files import make_fapl

        fapl = make_fapl(None, libver="latest")
    except (ImportError, TypeError):
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    lib = _hdf5_library()
    if lib is not None:
        lib.H5Pset_metadata_read_attempts(fapl.id, attempts)
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


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
                return _swmr_read(path, LIVE_READ_ATTEMPTS if writer else DEAD_READ_ATTEMPTS)
            if writer:
                raise DataError(f"{path}: is being written by {runlock.describe(writer)} without SWMR (a run "
                                f"without recorders); read it when that run has ended")
            return h5py.File(_ClearedView(path, sb), "r")
        if sb is not None and sb.version >= 3 and size < sb.eof:
            # cut short (a full disk): HDF5 refuses a plain open, a SWMR read sees what is there
            return _swmr_read(path, DEAD_READ_ATTEMPTS)
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
