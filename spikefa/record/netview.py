"""How recorders read a network: the observer protocol of docs/design.md in one place.

The network calls ``observer.on_step(net)`` after a time step, at every step unless the observer's
``next_step(net)`` names the next one it needs (:func:`image_start` places image windows in steps
for it). Recorders read ``net.step``,
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


def _param(net, name, default=None):
    value = getattr(net, name, None)
    if value is None:
        value = getattr(getattr(net, "params", None), name, None)
    return default if value is None else value


def n_streams(net) -> int:
    return int(_param(net, "n_streams", None) or _param(net, "streams", 1))


def backend(net) -> str:
    """'numpy', 'cpu' or 'cuda'."""
    b = _param(net, "backend", "numpy")
    return str(getattr(b, "name", b))


def mode(net) -> str:
    """'spiking' or 'rate' (every Bernoulli sample replaced by its probability)."""
    return str(_param(net, "mode", "spiking"))


def next_observed_step(net) -> int:
    """The ``net.step`` observers will see at the next step: it counts steps completed."""
    return int(net.step) + 1


def image_start(net):
    """A function giving the step (as observers see net.step) at which the recorded streams start
    their image ``count`` (images per stream, what windows count), or None when this network
    cannot say (its recorders then ask to be called at every step)."""
    fn = getattr(net, "first_step_of_image", None)
    if callable(fn):
        return fn
    per_image = getattr(net, "steps_per_image", None)
    if per_image:
        per_image = int(per_image)
        return lambda count: int(count) * per_image + 1
    return None


def state_reader(net, var: str, layer: int, stream: int):
    """A function returning the live array of (var, layer) for ``stream`` (1-D when the network
    selects the stream itself, else with the streams on the first axis); and whether it has a stream axis."""
    fast = getattr(net, "layer_state_reader", None)
    if callable(fast):          # checked once, then a plain lookup at every recorded step
        read = fast(var, layer, stream=stream)
        return read, read(), False
    try:
        probe = net.layer_state(var, layer, stream=stream)
    except TypeError:           # a network whose layer_state takes no stream
        probe = net.layer_state(var, layer)
        return (lambda: net.layer_state(var, layer)), probe, len(probe.shape) == 2

    def read():
        return net.layer_state(var, layer, stream=stream)
    return read, probe, False


def is_device_array(a) -> bool:
    return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")


def images_seen(net) -> int:
    """Images shown so far to each stream (what recorder windows count): S streams take S images
    at a time, so a window of 20 images spans 20 images of the recorded stream whatever S is."""
    seen = getattr(net, "images_seen", None)
    if seen is not None:
        return int(seen) // n_streams(net)
    per_image = getattr(net, "steps_per_image", None)
    if per_image:
        return int(net.step) // int(per_image)
    return int(net.image_index)


def image_and_label(net, stream: int) -> tuple[int, int]:
    """Data-set index and label of the image that ``stream`` is shown now."""
    if stream:
        return int(net.image_indices[stream]), int(net.labels[stream])
    return int(net.image_index), int(net.label)


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
