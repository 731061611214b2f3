"""Where an export is written: checked before any work, written under a temporary name, renamed.

A failed or interrupted export therefore never leaves a half-written file at the destination.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile

from ...errors import ConfigError, OutputError

def require(module: str, extra: str):
    """Import a format's library, or say which extra installs it (pyproject.toml: an extra per format)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"export to {extra} needs the {module} package, which is not installed; install the "
                          f"{extra!r} extra: pip install \"spikefa[{extra}]\" (in a checkout: "
                          f"pip install -e \".[{extra}]\")") from None


def check_destination(out: str, inputs, overwrite: bool) -> str:
    """The absolute output path, after checking it can be written without losing anything."""
    out = os.path.abspath(os.fspath(out))
    for p in inputs:
        if os.path.exists(p) and os.path.exists(out) and os.path.samefile(p, out):
            raise OutputError(f"{out}: is one of the run files being exported; give another --out")
    if os.path.isdir(out):
        raise OutputError(f"{out}: is a folder; give a file name with --out")
    if os.path.exists(out) and not overwrite:
        raise OutputError(f"{out}: already exists; pass --overwrite (overwrite=True) to replace it, or "
                          f"choose another --out")
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        raise OutputError(f"{out}: folder {folder} does not exist; create it or choose another --out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: folder {folder} is not writable; choose another --out")
    return out


@contextlib.contextmanager
def atomic_output(out: str):
    """Yield a temporary path beside ``out``; on success rename it to ``out``, otherwise remove it."""
    folder, name = os.path.split(out)
    try:
        # the suffix kept: libraries check it (pynwb warns on a name not ending in .nwb)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.partial-", suffix=os.path.splitext(name)[1], dir=folder)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write in {folder} ({exc.strerror}); choose another --out") from None
    os.close(fd)
    os.unlink(tmp)      # the writers create the file themselves (some refuse an existing one)
    try:
        yield tmp
        os.replace(tmp, out)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(f"{out}: writing failed ({exc}); nothing was left there; check the disk "
                          f"space and permissions, or choose another --out") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
