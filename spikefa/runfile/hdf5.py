"""HDF5 at the byte level, for files a writer left open: the superblock's open-for-writing marks,
a read-only view with them cleared (the job of ``h5clear -s``), and SWMR reads with bounded metadata
retries. :mod:`spikefa.runfile.read` decides which a file needs."""

from __future__ import annotations

import ctypes
import glob
import io
import os
import struct

import h5py

from ..errors import DataError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
WRITE_ACCESS, SWMR_WRITE_ACCESS = 0x1, 0x4


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


class ClearedView(io.RawIOBase):
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


def swmr_read(path: str, attempts: int) -> h5py.File:
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

