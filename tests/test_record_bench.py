"""`spikefa bench recording` runs end to end on a small network (a smoke test, not a timing)."""

import pytest

pytest.importorskip("spikefa.spiking.network")

from spikefa.bench import recording  # noqa: E402


def test_bench_recording_measures_every_configuration():
    rows = recording.measure(sizes=(784, 60, 100), images_per_round=2, rounds=1, log=lambda msg: None)
    assert [r["configuration"] for r in rows] == ["bare", "observer", "50 units", "all spikes", "fig4 outside",
                                                  "fig4 windows"]
    assert rows[0]["ratio"] == 1 and all(r["ms/step"] > 0 and r["ratio"] > 0 for r in rows)
    assert {r["configuration"] for r in rows if "met" in r} == {"50 units", "all spikes", "fig4 outside"}


def test_recording_outside_its_windows_runs_the_bare_steps_compiled_calls():
    """The deterministic half of the fig4-outside target: the same compiled calls as no recording."""
    rows = {r["configuration"]: r for r in recording.measure(sizes=(784, 60, 100), images_per_round=4, rounds=2,
                                                             log=lambda msg: None)}
    assert rows["fig4 outside"]["calls"] == rows["bare"]["calls"]
    # inside their windows too: the compiled blocks take the samples (record/compiled.py)
    assert rows["fig4 windows"]["calls"] == rows["50 units"]["calls"] == rows["bare"]["calls"]
    # an observer called every step is the contrast: one compiled call per step
    from spikefa.spiking.params import SpikingParams
    assert rows["observer"]["calls"] == str(4 * SpikingParams(sizes=(784, 60, 100), units_per_class=10).steps_per_image)


def test_quick_prints_no_targets(monkeypatch, capsys):
    """--quick's tiny network cannot speak for the full-size targets: no verdicts, a note."""
    from types import SimpleNamespace

    monkeypatch.setattr(recording, "QUICK_SIZES", (784, 60, 100))
    monkeypatch.setattr(recording, "measure", lambda **kw: _real_measure(**{**kw, "images_per_round": 2,
                                                                            "log": lambda msg: None}))
    assert recording.main(SimpleNamespace(quick=True, repeat=1)) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("configuration"))
    assert "target" not in header.split() and "met" not in header.split()
    assert "targets are for the full-size network" in out


_real_measure = recording.measure
