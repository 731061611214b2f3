"""How recorders read a network: the observer protocol of docs/design.md in one place.

The network calls ``observer.on_step(net)`` after every time step. Recorders read ``net.step``,
``net.image_index``, ``net.label`` and ``net.layer_state(var, layer)``; everything else they need
(layer sizes, streams, backend, mode, images presented) is looked up here, with fallbacks, so a
change in the network's attributes touches this module only.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def layer_sizes(net) -> list[int]:
    """Units per layer, input first."""
    for attr in ("sizes", "layer_sizes"):
        sizes = getattr(net, attr, None)
        if sizes is not None:
            return [int(n) for n in sizes]
    raise ConfigError("cannot record this network: it has no 'sizes' (units per layer, input first)")


def n_streams(net) -> int:
    return int(getattr(net, "n_streams", getattr(net, "streams", 1)) or 1)


def backend(net) -> str:
    return str(getattr(net, "backend", "numpy"))


def mode(net) -> str:
    """'spiking' or 'rate' (every Bernoulli sample replaced by its probability)."""
    m = getattr(net, "mode", None)
    if m is None:
        m = "rate" if getattr(net, "rate", False) else "spiking"
    return str(m)


def is_device_array(a) -> bool:
    return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")


def images_seen(net) -> int:
    """Images presented so far in this run (what recorder windows are counted in)."""
    seen = getattr(net, "images_seen", None)
    if seen is not None:
        return int(seen)
    per_image = getattr(net, "steps_per_image", None)
    if per_image:
        return int(net.step) // int(per_image)
    return int(net.image_index)


def attach(net, observer) -> None:
    for method in ("add_observer", "attach"):
        fn = getattr(net, method, None)
        if callable(fn):
            fn(observer)
            return
    observers = getattr(net, "observers", None)
    if observers is None:
        raise ConfigError("cannot record this network: it takes no observers (no add_observer/observers)")
    observers.append(observer)


def detach(net, observer) -> None:
    fn = getattr(net, "remove_observer", None)
    if callable(fn):
        fn(observer)
        return
    observers = getattr(net, "observers", None)
    if observers is not None and observer in observers:
        observers.remove(observer)
