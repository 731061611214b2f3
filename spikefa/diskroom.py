"""Room to write: stop a run cleanly *before* a write fails for want of space.

HDF5 does not recover from a write that fails half way: the metadata of a file it could not
extend is left inconsistent, closing it can fail again (or crash the process), and the file may
then be unreadable. So writers ask here before each flush and each checkpoint whether the
filesystem (and the process's file-size limit, RLIMIT_FSIZE) leaves room for what they are about
to write plus a reserve for closing the file with its status; when it does not, the run stops with
an OutputError while everything on disk is still consistent.
"""

from __future__ import annotations

import os
import resource

from .errors import OutputError

RESERVE_BYTES = 4 << 20          # what closing a run file (status, summary, results) may need ...
MIN_RESERVE_BYTES = 256 << 10    # ... at least; on a small filesystem a tenth of it (a 20 MB tmpfs keeps 2 MB)
SMALL_FILE_RESERVE = 256 << 10   # the same, against a per-file size limit (files grow by little at close)


def _statvfs(path: str):
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        return os.statvfs(folder)
    except OSError:
        return None


def free_bytes(path: str) -> int | None:
    st = _statvfs(path)
    return None if st is None else st.f_bavail * st.f_frsize


def reserve_bytes(path: str) -> int:
    st = _statvfs(path)
    if st is None:
        return RESERVE_BYTES
    return int(min(RESERVE_BYTES, max(MIN_RESERVE_BYTES, st.f_blocks * st.f_frsize // 10)))


def file_size_limit() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def check(path: str, need: int, what: str, kept: str = "everything written before is kept") -> None:
    """Raise OutputError unless ``need`` more bytes (plus a reserve) fit in ``path``'s filesystem
    and under the file-size limit."""
    need = max(0, int(need))
    free = free_bytes(path)
    reserve = reserve_bytes(path)
    if free is not None and free < need + reserve:
        folder = os.path.dirname(os.path.abspath(path)) or "."
        raise OutputError(f"{path}: disk full: {_mb(free)} free in {folder}, {what} needs about "
                          f"{_mb(need + reserve)}; stopped before writing ({kept}); free disk space "
                          f"or choose another --out")
    limit = file_size_limit()
    if limit is not None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
        if size + need + SMALL_FILE_RESERVE > limit:
            raise OutputError(f"{path}: file-size limit reached ({_mb(limit)}, ulimit -f): {what} would need "
                              f"{_mb(size + need + SMALL_FILE_RESERVE)}; stopped before writing ({kept})")
