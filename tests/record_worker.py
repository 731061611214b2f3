"""A run that records a FakeNet into a RunFile until stopped: the subject of the kill tests.

    python record_worker.py PATH FLUSH_S
prints "flushed STEP" after each flush; Ctrl-C is handled like the runner does.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record_fakenet import FakeNet  # noqa: E402

from spikefa import stop  # noqa: E402
from spikefa.config import Model  # noqa: E402
from spikefa.record import Recorder, build_recorders  # noqa: E402
from spikefa.runfile import RunFile  # noqa: E402

RECORDERS = [Recorder(name="r", layers="all", units=[0, 2, 5], variables=["spikes", "V", "mod"]),
             Recorder(name="e", layers=[1], spike_format="events")]
SIZES = [6, 20, 12, 10]


def main(path, flush_s):
    out = RunFile(path, Model(experiment="spiking", params={"seed": 0}, source="worker"))
    out.declare_metric("fa/test_error")
    net = FakeNet(SIZES)
    rec = build_recorders(RECORDERS, net, out, flush_interval_s=flush_s, block_steps=1000)
    flush = rec.flush

    def flush_and_say():
        flush()
        print("flushed", rec.last_step_written(), flush=True)

    rec.flush = flush_and_say
    print("started", flush=True)
    try:
        # as the runner does: a first Ctrl-C is only recorded and stops the loop at its next check,
        # since one raised inside an HDF5 call (the flushes here come every 50 ms) can be swallowed
        with stop.handling_signals(), stop.polling():
            while True:
                net.run(1)
                if net.step % 50 == 0:
                    out.append("fa/test_error", 1.0 / net.step)
                stop.check()
                time.sleep(0.001)
    except KeyboardInterrupt:
        out.set_status("interrupted", "stopped by Ctrl-C")
        out.close()
        print("spikefa: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
