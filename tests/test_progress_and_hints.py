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


def test_the_last_bar_ends_its_line_before_the_summary_table(tmp_path, monkeypatch):
    """stdout and stderr into one log (`spikefa run 2>&1 | tee log`): the bar's \\r-separated
    updates must end with a line end, so the table's title is a line of its own."""
    import contextlib

    from spikefa import progress, runner

    class Log(io.StringIO):
        def isatty(self):
            return False

    log = Log()
    monkeypatch.setattr(progress, "BAR_DELAY_S", 0.0)        # draw the bar from the first update
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        runner.run_file(None, str(tmp_path / "r.h5"), overrides=["train.images=400", "train.eval_every=200",
                                                                 "data.synthetic_test=100"])
    text = log.getvalue()
    assert "spiking fa" in text                             # the bar was drawn
    title = "Spiking network, feedback alignment"
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if title in line)
    assert lines[row].startswith(title), repr(lines[row][:200])
    assert "\r" not in lines[row] and lines[row + 1].startswith("arm")


def test_a_bar_left_open_is_closed_before_the_table(tmp_path):
    from spikefa.runner import RunContext

    ctx = RunContext(model=None, show_progress=True)
    b = ctx.progress(total=10, desc="x")
    b.update(1)
    ctx.close_bars()
    assert not ctx.bars and b._inner.disable            # tqdm marks a closed bar disabled
