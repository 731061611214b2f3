"""The command line of the figure scripts in scripts/ (plot_raster.py, plot_traces.py, ...)."""

from __future__ import annotations

import argparse
import sys

from ..errors import SpikefaError


def parser(doc: str) -> argparse.ArgumentParser:
    """A script's parser, described by the first line of its docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0])


def main(prog: str, p: argparse.ArgumentParser, draw, argv=None) -> int:
    """Parse ``argv``, call ``draw(args)`` and print the paths it wrote, one a line (exit code 0);
    a SpikefaError prints one line ``PROG: error: ...`` on stderr (exit code 2)."""
    args = p.parse_args(argv)
    try:
        paths = draw(args)
    except SpikefaError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(paths))
    return 0


def figure(prog: str, doc: str, draw, run_help: str, argv=None, **options) -> int:
    """A script drawing one figure kind of a run: ``draw(run, out_dir, **options)`` into --out (default
    RUN_figures/). ``options`` name integer flags: ``images=(default, help)`` is ``--images N``."""
    from . import default_out_dir

    p = parser(doc)
    p.add_argument("run", help=run_help)
    p.add_argument("--out", help="folder for the figure (default: RUN_figures/)")
    for name, (default, help_) in options.items():
        p.add_argument(f"--{name}", type=int, default=default, help=help_)
    return main(prog, p, lambda a: draw(a.run, a.out or default_out_dir(a.run), **{k: getattr(a, k) for k in options}),
                argv)
