"""Test a spiking-network checkpoint on the test set, without training it any further.

The data settings (dataset, folder, test_size) come from the run file beside the checkpoint
(RUN.ckpt.h5 -> RUN.h5), which holds every parameter of the run that wrote it; without one,
a 784-input network is tested on MNIST and any other on the synthetic digits its input fits.
"""

from __future__ import annotations

import math
import os

from .errors import ConfigError, DataError
from .spiking import load_checkpoint
from .spiking.params import param_field
from .config import check_value


def run_params_beside(ckpt: str) -> dict | None:
    """The parameters of the run that wrote ``ckpt``, or None when its run file is gone or unreadable."""
    from .runfile import read_params

    if not ckpt.endswith(".ckpt.h5"):
        return None
    run = ckpt[:-len(".ckpt.h5")] + ".h5"
    try:
        return read_params(run) if os.path.isfile(run) else None
    except (OSError, KeyError, ValueError):
        return None


def _data_table(net_params, run_params: dict | None) -> dict:
    from .experiments.spiking import SCHEMA
    from .config import resolve

    data = resolve(SCHEMA["data"], {}, "<defaults>", "data.")
    if run_params and isinstance(run_params.get("data"), dict):
        data.update(run_params["data"])
    elif net_params.sizes[0] != 784:
        grid = math.isqrt(net_params.sizes[0])
        if grid * grid != net_params.sizes[0]:
            raise DataError(f"the checkpoint's network has {net_params.sizes[0]} inputs, neither MNIST's 784 nor a "
                            f"square synthetic grid, and its run file is missing; keep RUN.h5 beside RUN.ckpt.h5")
        data.update(dataset="synthetic", synthetic_grid=grid)
    return data


def _load(ckpt: str, *, test_steps, backend, readout, carry):
    if test_steps is not None:
        check_value(param_field("test_steps"), test_steps, "test_steps", "--test-steps")
    net, _ = load_checkpoint(ckpt, backend=backend)
    if test_steps is not None:
        net.params = net.params.replace(test_steps=test_steps)
    if readout is not None:
        net.params = net.params.replace(test_readout=readout)
    if carry is not None:
        net.params = net.params.replace(test_carry=bool(carry))
    return net


def _splits(ckpt: str, net, test_size: int | None, validation: bool) -> tuple[dict, tuple, tuple]:
    """(data table, (test images, labels), (validation images, labels) or None): the test set (its
    first test_size images) and, when asked, the validation images the run held out of training (the
    last data.validation_size training images), loaded once."""
    from .experiments.spiking import load_data, split_validation

    if test_size is not None and test_size < 1:
        raise ConfigError(f"--test-size {test_size}: expected an integer >= 1")
    run_params = run_params_beside(ckpt)
    data = _data_table(net.params, run_params)
    if test_size is not None:
        data["test_size"] = test_size
    if validation and not data.get("validation_size"):
        raise ConfigError(f"{ckpt}: its run held out no validation images (data.validation_size = 0), so every "
                          f"training image was learned from; evaluate --on test, or train with "
                          f"data.validation_size set" + ("" if run_params else " (or keep RUN.h5 beside the checkpoint)"))
    params = {"seed": net.params.seed, "data": data,
              "network": {"sizes": list(net.params.sizes), "units_per_class": net.params.units_per_class}}
    X, y, Xt, yt = load_data(params)
    held_out = split_validation(params, X, y)[2:] if validation else None
    return data, (Xt, yt), held_out


def evaluate_checkpoint(ckpt: str, *, test_steps: int | None = None, test_size: int | None = None,
                        backend: str | None = None, readout: str | None = None, carry: bool | None = None,
                        on: str = "test") -> dict:
    """One row: the checkpoint's images trained, the images tested (``on`` the test set or the run's
    held-out validation images) and its error on them now."""
    if on not in ("test", "validation"):
        raise ConfigError(f"--on {on}: expected test or validation")
    net = _load(ckpt, test_steps=test_steps, backend=backend, readout=readout, carry=carry)
    data, test, held_out = _splits(ckpt, net, test_size, validation=on == "validation")
    images, labels = held_out if on == "validation" else test
    error = net.test(images, labels)
    return {"checkpoint": ckpt, "images_trained": net.images_seen, "dataset": data["dataset"], "on": on,
            "images": len(labels), "test_steps": net.params.test_steps, "readout": net.params.test_readout,
            "carry": net.params.test_carry, "error": error}


def choose_checkpoint_test_steps(ckpt: str, candidates, *, test_size: int | None = None,
                                 backend: str | None = None, readout: str | None = None,
                                 carry: bool | None = None) -> list[dict]:
    """The model file's train.test_steps_choices for a finished checkpoint: one row per candidate M
    on the validation images, then one on the test set at the M they chose (spiking.test_steps_choice)."""
    from .spiking.test_steps_choice import choose_test_steps

    for m in candidates:
        check_value(param_field("test_steps"), m, "test_steps", "--test-steps")
    net = _load(ckpt, test_steps=None, backend=backend, readout=readout, carry=carry)
    data, (Xt, yt), (Xv, yv) = _splits(ckpt, net, test_size, validation=True)
    choice = choose_test_steps(net, candidates, Xv, yv, Xt, yt)
    base = {"checkpoint": ckpt, "images_trained": net.images_seen, "dataset": data["dataset"]}
    tail = {"readout": net.params.test_readout, "carry": net.params.test_carry}
    rows = [dict(base, on="validation", images=len(yv), test_steps=m, **tail, error=e,
                 chosen="yes" if m == choice.chosen else "")
            for m, e in zip(choice.candidates, choice.validation_errors)]
    rows.append(dict(base, on="test", images=len(yt), test_steps=choice.chosen, **tail, error=choice.test_error,
                     chosen="yes"))
    return rows
