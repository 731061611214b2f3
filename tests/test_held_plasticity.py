"""The cpu backend holds a step's plasticity over to the next compiled call's forward pass when
only observers that read no weights (``reads_weights = False``, as recorders say) run in between;
every other observer, and anything after a train call or an exception, sees every change made."""

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork, SpikingParams

from test_spiking_agreement import SMALL, data


def net_of(**kw):
    return SpikingNetwork(SpikingParams(**{**SMALL, "backend": "cpu", **kw}))


class StateOnly:
    """Called after every step; reads only spikes, and says so."""

    reads_weights = False

    def __init__(self, raise_at=None):
        self.calls, self.held, self.raise_at = 0, 0, raise_at

    def on_step(self, net):
        self.calls += 1
        self.held += bool(net.backend._pending[net.params.streams].due.any())
        net.layer_state("spikes", 1)
        if net.step == self.raise_at:
            raise KeyboardInterrupt


class ReadsWeights:
    def __init__(self, raise_at=None):
        self.seen, self.raise_at = {}, raise_at

    def on_step(self, net):
        self.seen[net.step] = [w.copy() for w in net.W[1:]]
        if net.step == self.raise_at:
            raise KeyboardInterrupt


def bits(net):
    return [w.view(np.uint32).copy() for w in net.W[1:]]


@pytest.mark.parametrize("kw", [dict(), dict(streams=3, sparse=0.3), dict(gamma=0.01)])
def test_a_state_observer_every_step_changes_no_bit_and_holds_changes_over(kw):
    X, y = data()
    plain, watched = net_of(**kw), net_of(**kw)
    plain.train(X, y, 12)
    obs = StateOnly()
    watched.add_observer(obs)
    watched.train(X, y, 12)
    assert obs.calls == watched.step == plain.step
    assert obs.held > obs.calls // 2          # the change was held over at most observed steps
    assert all(np.array_equal(a, b) for a, b in zip(bits(plain), bits(watched)))
    assert not watched.backend._pending[watched.params.streams].due.any()     # settled on return


def test_an_observer_that_may_read_weights_sees_every_change_made():
    X, y = data()
    obs = ReadsWeights()
    net = net_of()
    net.add_observer(obs)
    net.train(X, y, 3)
    N = net.params.steps_per_image
    for images in (1, 2):
        ref = net_of()
        ref.train(X, y, images)
        assert all(np.array_equal(a, b) for a, b in zip(obs.seen[images * N], ref.W[1:]))


def test_an_observer_raising_leaves_no_change_unmade():
    X, y = data()
    held, settled = net_of(), net_of()
    held.add_observer(StateOnly(raise_at=7))
    settled.add_observer(ReadsWeights(raise_at=7))
    for net in (held, settled):
        with pytest.raises(KeyboardInterrupt):
            net.train(X, y, 5)
    assert held.step == settled.step == 7
    assert not held.backend._pending[1].due.any()
    assert all(np.array_equal(a, b) for a, b in zip(bits(held), bits(settled)))
