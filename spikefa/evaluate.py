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


def evaluate_checkpoint(ckpt: str, *, test_steps: int | None = None, test_size: int | None = None,
                        backend: str | None = None, readout: str | None = None, carry: bool | None = None) -> dict:
    """One row: the checkpoint's images trained, the test set used, and its test error now."""
    from .experiments.spiking import load_data

    if test_steps is not None:
        check_value(param_field("test_steps"), test_steps, "test_steps", "--test-steps")
    if test_size is not None and test_size < 1:
        raise ConfigError(f"--test-size {test_size}: expected an integer >= 1")
    net, _ = load_checkpoint(ckpt, backend=backend)
    if test_steps is not None:
        net.params = net.params.replace(test_steps=test_steps)
    if readout is not None:
        net.params = net.params.replace(test_readout=readout)
    if carry is not None:
        net.params = net.params.replace(test_carry=bool(carry))
    run_params = run_params_beside(ckpt)
    data = _data_table(net.params, run_params)
    if test_size is not None:
        data["test_size"] = test_size
    params = {"seed": net.params.seed, "data": data,
              "network": {"sizes": list(net.params.sizes), "units_per_class": net.params.units_per_class}}
    _, _, Xt, yt = load_data(params)
    error = net.test(Xt, yt)
    return {"checkpoint": ckpt, "images_trained": net.images_seen, "dataset": data["dataset"],
            "test_images": len(yt), "test_steps": net.params.test_steps, "readout": net.params.test_readout,
            "carry": net.params.test_carry, "test_error": error}
