"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""


class SpikefaError(Exception):
    """Base class: the message names the problem and the fix."""


class ConfigError(SpikefaError):
    """A model file or parameter is wrong (unknown key, wrong type, impossible value)."""


class DataError(SpikefaError):
    """A dataset is missing, corrupt, or input data has the wrong shape or range."""


class OutputError(SpikefaError):
    """An output path cannot be written, or a write failed mid-run."""


class DivergenceError(SpikefaError):
    """NaN or inf appeared in weights or state; names the step and the layer."""

    def __init__(self, message, step=None, layer=None):
        super().__init__(message)
        self.step = step
        self.layer = layer


def one_line(exc: BaseException | str) -> str:
    """An exception's message on one line: HDF5's messages span several (file write failed: time = ...\\n, ...)."""
    text = " ".join(str(exc).split())
    return text.replace(" ,", ",")
