"""Small model files the tests train in seconds, as values (spikefa.config.dumps writes their text)."""

from __future__ import annotations

import copy

from spikefa.config import dumps

# a 144-40-30 spiking network on generated 12x12 digits: checkpoints, resume, readouts, schedules
SMALL_SPIKING = {
    "experiment": "spiking", "seed": 2,
    "network": {"sizes": [144, 40, 30], "units_per_class": 3, "eta": 0.03, "backend": "cpu"},
    "data": {"dataset": "synthetic", "synthetic_train": 200, "synthetic_test": 60},
    "train": {"images": 240, "eval_every": 80, "checkpoint_every": 40, "checkpoint_min_s": 0},
}


def small_spiking(**tables) -> str:
    """SMALL_SPIKING's text with each given table's keys added or changed (``train={"images": 40}``)."""
    model = copy.deepcopy(SMALL_SPIKING)
    for table, values in tables.items():
        model.setdefault(table, {}).update(values)
    return dumps(model)
