"""Shared helpers of the tests that run spikefa in another process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def reaped(proc: subprocess.Popen):
    """``proc`` for the block; afterwards killed if it still runs, and its pipes closed."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def run_under_cudasim(template: str, tmp_path, timeout: float) -> subprocess.CompletedProcess:
    """Run a script (``template`` formatted with this folder as ``tests`` and ``tmp``) under Numba's
    CUDA simulator; its completed process, output captured as text."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    script = template.format(tests=os.path.dirname(__file__), tmp=str(tmp_path))
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)
