"""With bars off a long run still prints a line every minute; a run names the next command."""

import io

from spikefa import cli
from spikefa.progress import Heartbeat, bar


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_heartbeat_prints_once_a_minute_not_more():
    clock, out = Clock(), io.StringIO()
    beat = Heartbeat(total=1000, desc="spiking fa", unit="img", every_s=60, file=out, clock=clock)
    for _ in range(10):                     # 10 updates within 50 s: silent
        clock.t += 5
        beat.update(10)
    assert out.getvalue() == ""
    clock.t = 61
    beat.set_postfix(err="0.310")
    beat.update(10)
    clock.t = 70
    beat.update(10)                         # 9 s later: silent again
    lines = out.getvalue().splitlines()
    assert lines == ["spiking fa: 110/1000 img (11%), 61 s, err=0.310"]


def test_disabled_bar_is_a_heartbeat_that_keeps_the_bar_interface():
    b = bar(total=5, desc="x", enabled=False, initial=2)
    with b:
        b.update(1)
        b.set_postfix_str("running 1")
    assert isinstance(b, Heartbeat) and b.n == 3


def test_run_prints_the_plot_command_next(tmp_path, capsys):
    out = tmp_path / "demo.h5"
    assert cli.main(["run", "--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith(f"next: spikefa plot {out}")
