"""The benchmark's floor follows MODEL.md's accounting, and `spikefa bench spiking --quick` runs."""

import argparse

import pytest

from spikefa.bench import spiking as bench


def test_dense_step_of_figure4_moves_about_110_MB():
    sizes = bench.FIG4
    dense = bench.step_floor_bytes(sizes, active=sizes[:-1])
    assert dense == pytest.approx(110e6, rel=0.01)           # MODEL.md: "about 110 MB"
    half = bench.step_floor_bytes(sizes, active=[s / 2 for s in sizes[:-1]])
    feedback = 4 * (1500 * 1500 * 2 + 1500 * 1000)
    assert half - feedback == pytest.approx((dense - feedback) / 2, rel=0.01)


def test_quick_bench_prints_the_ratios(capsys):
    args = argparse.Namespace(quick=True, backends="cpu", streams=8, repeat=2)
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "copy bandwidth" in out and "cpu / floor" in out and "S=8 over S=1" in out
    assert "gemm/" in out and "rows/" in out      # eight streams on this network take the gemm kernel


def test_gemm_floor_times_the_products_alone():
    assert 0 < bench.gemm_floor_seconds(bench.QUICK, 8, repeat=2) < 1
