"""Stop requests: Ctrl-C and SIGTERM stop a run at the next safe point, never in the middle of a write.

Python runs a signal handler between any two bytecodes, so an exception raised there can land
inside an HDF5 call (which may swallow it: a SIGTERM was then lost) or between two updates of
the network's state (a checkpoint written then would not resume exactly). While a run is in a
*polling* stretch (its training loop), the handler therefore only records the request; the loop
calls :func:`check` between compiled blocks of steps (blocks last well under a second) and stops
there, where state and files are consistent. Outside such stretches (loading data, compiling),
nothing is being written that a stop could damage, and the handler raises at once. A second
signal always raises at once: the way out when a loop does not poll.

    with stop.handling_signals():        # the runner, around a whole run
        ...
        with stop.polling():             # a training loop
            for block in blocks:
                run(block)
                stop.check()             # raises Interrupted / Terminated when asked to stop
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """A stop asked for by Ctrl-C (or SIGTERM, :class:`Terminated`).

    ``at_safe_point`` is True when raised by :func:`check`: the training loop was between
    blocks, so its state may be checkpointed and its files are consistent.
    """

    signal_name = "Ctrl-C"

    def __init__(self, at_safe_point: bool = False):
        super().__init__()
        self.at_safe_point = at_safe_point


class Terminated(Interrupted):
    """SIGTERM (``kill``, a batch scheduler's stop): handled as Ctrl-C is; the process exits 143."""

    signal_name = "SIGTERM"


class _State:
    requested: int | None = None      # the signal number of a pending request
    requested_at: float | None = None
    polling: int = 0                  # depth of polling() stretches
    installed: int = 0


_state = _State()


def _exception(signum: int, at_safe_point: bool) -> Interrupted:
    cls = Terminated if signum == signal.SIGTERM else Interrupted
    return cls(at_safe_point=at_safe_point)


def _handler(signum, frame):
    first = _state.requested is None
    if first:
        _state.requested, _state.requested_at = signum, time.monotonic()
    if _state.polling and first:
        return                      # the loop stops at its next check()
    raise _exception(signum, at_safe_point=False)


def requested() -> str | None:
    """The name of the signal that asked to stop ("Ctrl-C", "SIGTERM"), or None."""
    return None if _state.requested is None else _NAMES.get(_state.requested, str(_state.requested))


def check() -> None:
    """Raise Interrupted (Terminated for SIGTERM) if a stop was requested. Call between blocks."""
    if _state.requested is not None:
        raise _exception(_state.requested, at_safe_point=True)


def request(signum: int = signal.SIGTERM) -> None:
    """Ask the running loop to stop, as the signal would (tests, and threads that cannot signal)."""
    if _state.requested is None:
        _state.requested, _state.requested_at = signum, time.monotonic()


@contextlib.contextmanager
def polling():
    """A stretch in which a first signal only records the request (the code calls check())."""
    _state.polling += 1
    try:
        yield
    finally:
        _state.polling -= 1


@contextlib.contextmanager
def handling_signals():
    """Install the Ctrl-C and SIGTERM handlers for a run, and forget any earlier request.

    Signals reach only the main thread: in a worker thread (sweeps) this installs nothing, and
    check() still honours request().
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer = _state.installed == 0
    if outer:
        _state.requested = _state.requested_at = None
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _state.installed += 1
    try:
        yield
    finally:
        _state.installed -= 1
        for s, h in previous.items():
            signal.signal(s, h)
        if outer:
            _state.requested = _state.requested_at = None
            _state.polling = 0      # a stretch left open by an exception ends with the run
