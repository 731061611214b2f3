"""Recorder declarations: parsing the record table and refusing what the network cannot supply."""

import numpy as np
import pytest

from spikefa.config import resolve
from spikefa.errors import ConfigError
from spikefa.record import RECORD_SCHEMA, Recorder, build_recorders, parse_record_params, resolve_recorders

from record_fakenet import FakeNet

SIZES = [6, 20, 12, 10]


def resolved(**kw):
    return resolve_recorders([Recorder(**kw)], SIZES, total_images=1000)[0]


def test_schema_defaults_record_nothing():
    params = resolve(RECORD_SCHEMA, {}, "<m>")
    recorders, options = parse_record_params(params)
    assert recorders == [] and options["flush_interval_s"] <= 1.0


def test_model_table_parses_into_recorders():
    table = {"flush_interval_s": 0.5, "recorders": [
        {"name": "raster", "layers": "hidden", "units": 5, "seed": 2, "windows": ["early", "late"]},
        {"layers": [3], "units": [0, 9], "variables": ["V", "mod", "error"], "every": 4}]}
    recorders, options = parse_record_params(resolve(RECORD_SCHEMA, table, "<m>"))
    assert options["flush_interval_s"] == 0.5
    rs = resolve_recorders(recorders, SIZES, total_images=1000)
    assert [r.name for r in rs] == ["raster", "rec1"]
    assert rs[0].layers == [1, 2] and rs[1].layers == [3]
    assert rs[0].windows.tolist() == [[0, 100], [900, 1000]]
    assert rs[1].variables[3] == ["V", "mod", "error"] and rs[1].every == 4


def test_random_units_are_sorted_distinct_and_seeded():
    a, b, c = resolved(units=7, seed=1), resolved(units=7, seed=1), resolved(units=7, seed=2)
    for layer in (1, 2, 3):
        u = a.units[layer]
        assert len(np.unique(u)) == 7 and np.all(np.diff(u) > 0) and u.max() < SIZES[layer]
        np.testing.assert_array_equal(u, b.units[layer])
    assert any(not np.array_equal(a.units[layer], c.units[layer]) for layer in (1, 2, 3))


@pytest.mark.parametrize("kw, words", [
    (dict(units=[0, 25]), "unit index out of range"),
    (dict(units=13, layers=[2]), "more random units"),
    (dict(layers=[4]), "layer out of range"),
    (dict(layers=[-1]), "layer out of range"),
    (dict(variables=["W"]), "variables"),
    (dict(variables=["error"], layers="hidden"), "'error' exists only"),
    (dict(windows=["someday"]), "windows"),
    (dict(windows=[[5, 2]]), "windows"),
    (dict(windows=[[0, 10], [5, 20]]), "overlap"),
    (dict(units="some"), "units"),
    (dict(every=0), "every"),
    (dict(stream=1), "stream out of range"),
    (dict(spike_format="zip"), "spike_format"),
])
def test_bad_declarations_are_refused(kw, words):
    with pytest.raises(ConfigError, match=words):
        resolved(**kw)


def test_named_windows_need_the_run_length():
    with pytest.raises(ConfigError, match="length in images"):
        resolve_recorders([Recorder(windows=["early"])], SIZES)


def test_named_windows_share_a_run_shorter_than_they_are_end_to_end():
    """Three 20-image windows in a run of 8 images per stream (Figure 4's recorders in a short run)
    get 2 images each, disjoint, rather than refusing the run."""
    names = ["early", "middle", "late"]
    rec = resolve_recorders([Recorder(windows=names, window_images=20)], SIZES, total_images=8)[0]
    assert rec.windows.tolist() == [[0, 2], [3, 5], [6, 8]] and rec.window_names == names
    for total in (3, 9, 59, 60, 61, 1000):      # always disjoint, inside the run, as long as fits
        w = resolve_recorders([Recorder(windows=names, window_images=20)], SIZES, total_images=total)[0].windows
        assert w[0, 0] == 0 and w[-1, 1] == total and all(w[i, 1] <= w[i + 1, 0] for i in range(2))
        assert set(w[:, 1] - w[:, 0]) == {min(20, total // 3)}
    with pytest.raises(ConfigError, match="3 named windows need at least 3 images per stream"):
        resolve_recorders([Recorder(windows=names)], SIZES, total_images=2)


def test_unknown_key_in_a_recorder_table_names_it():
    with pytest.raises(ConfigError, match=r"record.recorders\[0\].unit'"):
        parse_record_params({"recorders": [{"unit": 5}]}, "fig4.toml")


def test_duplicate_names_are_refused():
    with pytest.raises(ConfigError, match="share this name"):
        resolve_recorders([Recorder(name="a"), Recorder(name="a")], SIZES)


def test_builder_refuses_before_writing(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.raises(ConfigError, match="out of range"):
        build_recorders([Recorder(units=[30])], FakeNet(SIZES), str(path))
    assert not path.exists()


def test_no_recorders_attach_nothing(tmp_path):
    net = FakeNet(SIZES)
    rec = build_recorders({}, net, str(tmp_path / "run.h5"))
    assert net.observers == [] and not (tmp_path / "run.h5").exists()
    rec.close()
