"""One writer per run file: a lock of spikefa's own beside it, ``RUN.h5.lock``.

HDF5 locks a file only once it has opened it, and opening for writing ("w") truncates first: a
second run given the same --out (or --overwrite of a live run) destroyed the live run's file
before HDF5 could object. So every writer takes ``RUN.h5.lock`` first, an flock held for as long
as it writes, and only then creates or truncates RUN.h5. The lock file holds the writer's pid,
host and start time, for the message that names it. The operating system drops an flock when its
process dies, so a killed run never leaves a stale lock: a lock file nobody holds is free.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket

from .errors import OutputError

SUFFIX = ".lock"


def lock_path(path: str) -> str:
    return os.fspath(path) + SUFFIX


def writer_of(path: str) -> dict | None:
    """Who holds the write lock of run file ``path`` ({pid, host, started, command}); None when free."""
    lp = lock_path(path)
    try:
        fd = os.open(lp, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd) or {"pid": "?", "host": "?", "started": "?"}
        except OSError:
            return None                 # a filesystem without flock: no claim can be checked
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_info(fd) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "null")
    except (OSError, ValueError):
        return None


def describe(info: dict) -> str:
    return f"process {info.get('pid')} on {info.get('host')} (since {info.get('started')})"


class WriterLock:
    """The write lock of one run file, held from acquire() until release()."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.fd = None

    def acquire(self, what: str = "write") -> "WriterLock":
        """Take the lock or raise OutputError naming the process that holds it."""
        lp = lock_path(self.path)
        for _ in range(5):          # the holder may unlink the file between our open and flock
            try:
                fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot create its lock file {lp} ({exc.strerror}); "
                                  f"choose a writable --out") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = _read_info(fd) or {}
                os.close(fd)
                raise OutputError(f"{self.path}: is being written by {describe(info)}; cannot {what} it "
                                  f"while that run is alive (stop it first, or choose another --out)") from None
            except OSError:
                pass                # no flock on this filesystem: go ahead unlocked
            try:
                same = os.fstat(fd).st_ino == os.stat(lp).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise OutputError(f"{self.path}: its lock file {lp} keeps changing; another process is starting "
                              f"on this run file")
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": _dt.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(lock_path(self.path))
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self if self.fd is not None else self.acquire()

    def __exit__(self, *exc):
        self.release()
