"""The ``spikefa`` command.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``main(args) -> int``;
this file only dispatches. Errors a user can fix (SpikefaError) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import SpikefaError

# name -> (module, one-line help)
COMMANDS = {
    "run": ("spikefa.commands.run", "run a model file (no file: the embedded spiking demo)"),
    "data": ("spikefa.commands.data", "find, check or fetch datasets (MNIST)"),
    "eval": ("spikefa.commands.eval", "test a checkpoint on the test set without training"),
    "bench": ("spikefa.commands.bench", "benchmark the kernels against their floor and a numpy reference"),
    "plot": ("spikefa.commands.plot", "draw figures from a run file"),
    "compare": ("spikefa.commands.compare", "compare a spiking network with its rate limit"),
    "sweep": ("spikefa.commands.sweep", "run seeds x parameter values as Dask tasks"),
    "reproduce": ("spikefa.commands.reproduce", "reproduce the paper's figures and write a report"),
    "export": ("spikefa.commands.export", "export a run's recordings to NWB, SONATA or Neo"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikefa",
        description="Spiking and rate networks that learn by feedback alignment (Lillicrap et al. 2016).")
    parser.add_argument("--version", action="version", version=f"spikefa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (mod, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        module = importlib.import_module(mod)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args._module.main(args) or 0)
    except SpikefaError as exc:
        print(f"spikefa: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:     # sizes are bounded up front; this is a machine smaller than the bounds
        print("spikefa: error: out of memory; choose smaller network.sizes, fewer streams or a smaller "
              "data set", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from .runner import Terminated

        if isinstance(exc, Terminated):
            print("spikefa: terminated", file=sys.stderr)
            return 128 + 15
        print("spikefa: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point.

    After a failed write (a full disk) HDF5 may crash while closing its files at interpreter
    exit; the data is already safe, so leave without that clean-up rather than segfault.
    """
    code = main()
    if code == 2:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
