"""SpikingNetwork: the continuous-time network of Figure 4, trained image after image.

    net = SpikingNetwork(SpikingParams(sizes=(784, 1500, 1500, 1500, 1000), backend="cpu"))
    net.train(images, labels, n_images=10000)     # images (n, 784) float in [0, 1]
    error = net.test(test_images, test_labels)    # fraction misclassified

Training shows each image for N = steps_per_image steps and goes straight on to the next one: no reset
of V, U or the weights in between. S = params.streams streams run side by side on different images
and share the weights (their weight changes are summed); S = 1 is the paper's network. Images are
drawn from the training set in a fresh permutation per epoch (seeded), so the position in the data
stream (``images_seen``) and the step counter (``step``) are all a checkpoint needs to continue.

Testing arrests plasticity, shows each test image for M = test_steps steps (``test_streams`` at a
time, in a test state of its own) and guesses the class whose output units spiked most
(``test_readout`` "spikes"; "rate" adds up sigma(V_L) instead, "psp" V_L). Each test image starts
from V = U = 0, or with ``test_carry`` the dynamics run on from one test image to the next in each
test stream (from 0 at the start of each evaluation). It uses its own random draws (purpose 1 of
the counter-based generator, steps counted from 0), so evaluating does not change training and
evaluating twice gives the same answer.

``net.eta`` is the learning rate now: ``params.eta`` until set (a schedule lowering it); it is
saved in checkpoints.

State is plain numpy, indexed by the paper's layer numbers l (0 = input): ``W[l]`` (n_l, n_{l-1}),
``b[l]``, ``B[l]`` (hidden l only; None for bp/none), ``V[l]``, ``U[l]``, ``spikes[l]`` (S, n_l);
index 0 of W, b, B, V, U is None. W[l] is the stored weights times their pending lazy decay;
reading it changes nothing, and ``net.W[2][...] = new`` sets them. ``net.state_dict()`` takes all
of it (weights as stored with their pending decay, the streams, the counters and eta) and
``load_state_dict`` restores it, so the network goes on bit for bit; a checkpoint is that dict in
a file. With the cuda backend the host arrays are copied to the device when train/test starts and
back when it returns.

Observers (recorders) are called after every training step as ``observer.on_step(net)``; during
the call ``net.step`` is the number of steps completed, ``net.image_index`` and ``net.label`` the
data index and label of the image in stream 0 (``net.image_indices``/``net.labels``: all streams),
and ``net.layer_state(var, layer, stream=0)`` returns the live array of var in
("spikes", "V", "U", "mod", "error") for that layer and stream (host numpy for numpy/cpu, a device
array for cuda). An observer may say when it next needs the network: ``observer.next_step(net)``
returns the first step (counted as net.step counts, so at least net.step + 1) at which it needs
on_step, or None for never again; training then runs compiled blocks of steps up to the earliest
step any observer needs and calls only the observers that asked for it. An observer without
next_step is called after every step (and makes training go one step per compiled call).
An observer that never reads the weights in on_step says so with ``reads_weights = False`` (the
recorders do): the cpu backend may then hold a step's plasticity over to the next compiled call,
as it does within one (cpu.py); for any other observer every change is made before it is called.
``net.first_step_of_image(count)`` is the step at which each stream starts its image ``count``
(the per-stream image count recorder windows use), for observers that place windows in steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DivergenceError
from . import loops, statedict
from .backends import make_backend
from .codes import PURPOSE_TEST, PURPOSE_TRAIN
from .datacheck import check_data
from .decay_view import true_weights
from .loops import BLOCK_SECONDS, BLOCK_STEPS  # noqa: F401 (the network's block sizes, named here too)
from .params import SpikingParams
from .protocol import Backend
from .state import F32, new_streams, new_weights
from .statedict import STATE_SCALARS, STREAM_ARRAYS  # noqa: F401 (checkpoint.py reads them here)

STATE_VARS = ("spikes", "V", "U", "mod", "error")
TRAIN, TEST = PURPOSE_TRAIN, PURPOSE_TEST       # "purpose" word of the random keys


@dataclass
class Evaluation:
    """One pass over a test set (``SpikingNetwork.evaluate``)."""

    error: float                # fraction misclassified
    confusion: np.ndarray       # (classes, classes) int64: row = true class, column = guessed class
    firing_rate: np.ndarray     # (L + 1,) spikes per unit per step over the test steps, layer 0 the input
                                # (in rate mode the mean spike probability)


class SpikingNetwork:
    def __init__(self, params: SpikingParams | None = None, **kwargs):
        self.params = params if params is not None else SpikingParams(**kwargs)
        p = self.params
        self.weights = new_weights(p)
        self.state = new_streams(p.sizes, p.streams)
        self.backend: Backend = make_backend(p, self.weights)
        self.step = 0               # training time steps completed: the random generator's counter
        self.images_seen = 0        # training images consumed: the position in the data stream
        self.observers: list = []
        self.image_index = -1
        self.label = -1
        self.image_indices = np.full(p.streams, -1, dtype=np.int64)
        self.labels = np.full(p.streams, -1, dtype=np.int64)
        self.phase = "idle"
        self._live = self.state     # the state observers see (a device copy under cuda)
        self._test_state = None
        self._anchor = None         # (step, images per stream) when the running train call started

    # -- arrays a user reads and sets ------------------------------------------------------------
    @property
    def sizes(self):
        return self.params.sizes

    @property
    def eta(self) -> float:
        """The learning rate used from now on (params.eta keeps the initial one)."""
        return self.backend.eta

    @eta.setter
    def eta(self, value: float) -> None:
        value = float(value)
        if not (value >= 0 and np.isfinite(value)):
            raise ValueError(f"eta = {value!r}: expected a finite number >= 0")
        self.backend.set_eta(value)

    @property
    def W(self) -> list:
        """The true weights. Reading changes nothing: where decay is pending (scale != 1) they are
        computed, and assigning into one (``net.W[2][...] = new``) first folds that decay into the
        stored weights, then writes there."""
        return true_weights(self.weights)

    @property
    def b(self) -> list:
        return [None] + list(self.weights.b)

    @property
    def B(self) -> list:
        return [None] + list(self.weights.B) + [None]

    @property
    def masks(self) -> list:
        """Sparse masks (n_l, n_{l-1}) bool, True = synapse kept; None when the network is dense."""
        return [None] + [None if m is None else m.T for m in self.weights.maskT]

    @property
    def V(self) -> list:
        return [None] + list(self.state.V)

    @property
    def U(self) -> list:
        return [None] + list(self.state.U)

    @property
    def spikes(self) -> list:
        return list(self.state.s)

    def layer_state(self, var: str, layer: int | None = None, stream: int | None = 0):
        """The live array of ``var`` for ``layer`` (paper numbering) and ``stream`` (None: all)."""
        group, index = self.state_location(var, layer)
        arr = getattr(self._live, group)[index]
        return arr if stream is None else arr[stream]

    def layer_state_reader(self, var: str, layer: int | None = None, stream: int | None = 0):
        """A function of no arguments returning ``layer_state(var, layer, stream)`` now (the live
        arrays change between train and test calls), checked once: what recorders call at every
        recorded step."""
        group, index = self.state_location(var, layer)
        if stream is None:
            return lambda: getattr(self._live, group)[index]
        return lambda: getattr(self._live, group)[index][stream]

    def state_location(self, var: str, layer: int | None) -> tuple[str, int]:
        """The StreamState group holding ``var`` ("s", "V", "U" or "Mod") and the index of
        ``layer`` in it (what compiled blocks sample for recorders: record/compiled.py)."""
        L = self.params.n_layers
        if var == "error":
            layer = L if layer is None else layer
            if layer != L:
                raise ValueError(f"'error' lives in the output layer {L}, not layer {layer}")
        if var not in STATE_VARS:
            raise ValueError(f"unknown state variable {var!r}; use one of {', '.join(STATE_VARS)}")
        lo = 0 if var == "spikes" else 1
        if layer is None or not lo <= layer <= L:
            raise ValueError(f"layer {layer} has no {var!r}; layers {lo}..{L} do")
        group = {"spikes": "s", "V": "V", "U": "U", "mod": "Mod", "error": "U"}[var]
        return group, (layer if var == "spikes" else layer - 1)

    def add_observer(self, observer) -> None:
        if not callable(getattr(observer, "on_step", None)):
            raise TypeError("an observer needs an on_step(net) method")
        self.observers.append(observer)

    def remove_observer(self, observer) -> None:
        self.observers.remove(observer)

    def first_step_of_image(self, count: int) -> int:
        """The step (as observers see net.step: steps completed, counting this one) at which every
        stream starts showing its image ``count`` (images per stream, counted from 0 as recorder
        windows count them: net.images_seen // streams). May lie in the past."""
        if self._anchor is not None:
            step, seen = self._anchor
        else:
            step, seen = self.step, self.images_seen // self.params.streams
        return int(step + (int(count) - seen) * self.params.steps_per_image + 1)

    def _next_observation(self, skip=None):
        """The next step an observer needs (None: none does) and the observers that need it;
        ``skip``: an observer left out (its samples are taken inside compiled blocks: loops.sampler)."""
        after = self.step + 1
        best, who = None, []
        for obs in self.observers:
            if obs is skip:
                continue
            ask = getattr(obs, "next_step", None)
            k = after if ask is None else ask(self)
            if k is None:
                continue
            k = max(int(k), after)
            if best is None or k < best:
                best, who = k, [obs]
            elif k == best:
                who.append(obs)
        return best, who

    def reset_state(self) -> None:
        """V, U and spikes of every stream back to 0 (the weights are kept)."""
        self.state.reset()

    # -- the whole state, taken and restored ---------------------------------------------------
    def state_dict(self) -> dict:
        """Everything training goes on from, as copies: plain numpy arrays and Python numbers.

        ``step``, ``images_seen`` and ``eta`` (the learning rate now); ``scale`` and ``learns``;
        per layer h = 1..L ``layer{h}/WT``, ``layer{h}/b`` and, where the network has them,
        ``layer{h}/B`` and ``layer{h}/maskT``; the training streams' ``streams/{s,V,P,U,Mod,A,D}{i}``
        (the checkpoint's layout). The weights are WT as stored with their pending decay ``scale``
        (true W = scale * WT.T), not folded: folding rounds, and the network that loads this would
        not go on as this one does. Taken between train and test calls (under cuda the host arrays
        are current only then)."""
        return statedict.take(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` took, from a network of the same sizes, streams, feedback and
        sparsity; the backend, threads, kernel and test settings may differ. Loaded, this network
        goes on bit for bit as the one the state was taken from. Every key is checked (names, shapes,
        kinds) before anything is written, so a refused state (ValueError) leaves the network as it was."""
        statedict.restore(self, state)

    # -- input checks --------------------------------------------------------------------------
    def _check_data(self, images, labels, what: str):
        return check_data(self.params, images, labels, what)

    def _diverged(self, var, layer, when):
        raise DivergenceError(f"NaN or inf in {var} of layer {layer} by step {when}; lower eta or tau, "
                              f"or check the input and the initial weights", step=when, layer=layer)

    # -- training and testing ------------------------------------------------------------------
    def epoch_order(self, epoch: int, n: int) -> np.ndarray:
        if not self.params.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.params.seed, 1, epoch]).permutation(n)

    def _train_order(self, n_data: int, n_slots: int) -> np.ndarray:
        S = self.params.streams
        positions = self.images_seen + np.arange(n_slots * S)
        order = np.empty(positions.size, dtype=np.int64)
        epochs = positions // n_data
        for e in np.unique(epochs):
            sel = epochs == e
            order[sel] = self.epoch_order(int(e), n_data)[positions[sel] % n_data]
        return order.reshape(n_slots, S)

    def train(self, images, labels, n_images: int | None = None, callback=None) -> float:
        """Train on ``n_images`` images drawn from (images, labels) (default: one pass).

        The stream continues where the last call left off. Streams take images in slots of S,
        so n_images is rounded up to a multiple of S. ``callback(n_images, n_errors)`` is called
        after every block of steps (blocks last at most about BLOCK_SECONDS; the network's step and
        state are complete there, so a callback may stop training and checkpoint it). Returns the
        training error: the fraction of images whose output spikes, over their N steps, voted for
        the wrong class.
        """
        images, labels = self._check_data(images, labels, "training")
        p, S = self.params, self.params.streams
        n_images = images.shape[0] if n_images is None else int(n_images)
        if n_images <= 0:
            return float("nan")
        n_slots = -(-n_images // S)
        order = self._train_order(images.shape[0], n_slots)
        slot_labels = np.ascontiguousarray(labels[order])
        counts = np.zeros((n_slots, S, p.n_classes), dtype=F32)
        bad = self.backend.weights_nonfinite()
        if bad is not None:
            self._diverged("W or b", bad, self.step)
        live = self.backend.to_device(self.state)
        self._live, self.phase = live, "train"
        try:
            # compiled blocks run up to the next step an observer needs (one step at a time while
            # observers without next_step are attached); blocks end on image boundaries
            self._anchor = (self.step, self.images_seen // S)
            errors = loops.train_slots(self, live, images, order, slot_labels, counts, callback)
        finally:
            self.backend.to_host(self.state, live)
            self._live, self.phase, self._anchor = self.state, "idle", None
        bad = self.backend.weights_nonfinite()
        if bad is not None:
            self._diverged("W or b", bad, self.step)
        return errors / (n_slots * S)

    def predict(self, images) -> np.ndarray:
        """Class guesses for ``images``: plasticity off, M steps each, vote by class group."""
        images, _ = self._check_data(images, np.zeros(len(images), dtype=np.int64), "test")
        return self._vote(images).argmax(axis=1)

    def test(self, images, labels, callback=None) -> float:
        """Fraction of (images, labels) misclassified. ``callback()`` is called after every block
        of test steps (it may raise to stop: testing never changes the training state)."""
        images, labels = self._check_data(images, labels, "test")
        return float((self._vote(images, callback).argmax(axis=1) != labels).mean())

    def evaluate(self, images, labels, callback=None) -> Evaluation:
        """What ``test`` computes, with the confusion matrix and each layer's mean firing rate.

        The same votes as ``test`` (the same random draws: the steps run one per backend call so
        every layer's spikes can be counted, which changes nothing they compute); padding streams
        of the last slot are not counted."""
        images, labels = self._check_data(images, labels, "test")
        p = self.params
        spikes = np.zeros(len(p.sizes))
        guess = self._vote(images, callback, activity=spikes).argmax(axis=1)
        confusion = np.zeros((p.n_classes, p.n_classes), dtype=np.int64)
        np.add.at(confusion, (labels, guess), 1)
        steps = images.shape[0] * p.test_steps
        rate = spikes / (steps * np.asarray(p.sizes, dtype=float))
        return Evaluation(error=float((guess != labels).mean()), confusion=confusion, firing_rate=rate)

    def _vote(self, images, callback=None, activity=None) -> np.ndarray:
        """Summed votes (images x classes). ``activity`` (L + 1,): the spikes of each layer over the
        test steps of the real images are added to it."""
        return loops.vote(self, images, callback, activity)
