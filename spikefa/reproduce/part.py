"""A part of the report: one figure's experiment, run as a sweep over seeds (the parts themselves
are data, in :mod:`spikefa.reproduce.paper`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One figure's experiment, run as a sweep over seeds (quick and full sizes)."""

    name: str                       # --only name, folder name
    figure: str                     # "Figure 2a, b"
    model: str                      # model file, relative to the models folder
    seeds_quick: int
    seeds_full: int
    sets_quick: tuple = ()          # --set KEY=VALUES for the quick size (on top of the file's [quick])
    sets_full: tuple = ()
    about: str = ""
    priority: int = 0               # longer parts first, so the cluster's last minutes are not one task
    protocol: str = ""              # how the full size was chosen, in a sentence or two (the report says it)
    appendix: tuple = ()            # Markdown files in the part's folder (a study behind its protocol),
                                    # shown under the part when present, each with a PNG of the same stem
