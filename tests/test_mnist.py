import functools
import gzip
import http.server
import os
import shutil
import threading

import numpy as np
import pytest

from spikefa.cli import main as cli_main
from spikefa.data import mnist
from spikefa.errors import DataError


def test_load_train_and_test(mnist_dir):
    x, y = mnist.load("train", mnist_dir)
    assert x.shape == (60000, 784) and x.dtype == np.uint8
    assert y.shape == (60000,) and set(np.unique(y)) == set(range(10))
    xt, yt = mnist.load("test", mnist_dir)
    assert xt.shape == (10000, 784) and yt.shape == (10000,)
    # the first training label of MNIST is a 5, the first test label a 7
    assert y[0] == 5 and yt[0] == 7
    f = mnist.as_float(xt[:3])
    assert f.dtype == np.float32 and f.max() <= 1.0 and f.min() >= 0.0


def test_env_var_is_used(mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(mnist.ENV_VAR, mnist_dir)
    monkeypatch.chdir(tmp_path)
    assert os.path.dirname(mnist.locate("t10k-labels-idx1-ubyte")) == mnist_dir


def test_uncompressed_files_are_read(mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(os.path.join(mnist_dir, name + ".gz")) as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    x, y = mnist.load("test", str(tmp_path))
    x2, y2 = mnist.load("test", mnist_dir)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_missing_file_names_file_place_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        mnist.load("train", str(tmp_path))
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg and "spikefa data fetch mnist" in msg


def test_corrupt_file_is_refused(mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(os.path.join(mnist_dir, name), tmp_path / name)
    with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(DataError, match="corrupt"):
        mnist.load("test", str(tmp_path))


def test_cli_check_missing_exits_2(tmp_path, capsys):
    assert cli_main(["data", "check", "mnist", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support, and can cut a response short to simulate a dropped link."""

    cut_after = {}  # file name -> bytes to send before dropping (first request only)
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = os.path.basename(self.path)
        path = os.path.join(self.directory, name)
        type(self).requests.append((name, self.headers.get("Range")))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        cut = type(self).cut_after.pop(name, None)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture()
def mnist_server(mnist_dir):
    _RangeHandler.requests = []
    handler = functools.partial(_RangeHandler, directory=mnist_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_verifies_and_skips(mnist_server, tmp_path, mnist_dir):
    dest = tmp_path / "mnist"
    assert cli_main(["data", "fetch", "mnist", "--dir", str(dest), "--mirror", mnist_server]) == 0
    for name in mnist.FILES:
        assert (dest / (name + ".gz")).read_bytes() == open(os.path.join(mnist_dir, name + ".gz"), "rb").read()
    assert not list(dest.glob("*.part"))
    n = len(_RangeHandler.requests)
    mnist.fetch(str(dest), mirrors=[mnist_server], log=lambda m: None)
    assert len(_RangeHandler.requests) == n  # verified files are not fetched again


def test_fetch_resumes_a_partial_download(mnist_server, tmp_path):
    dest = tmp_path / "mnist"
    _RangeHandler.cut_after = {"train-labels-idx1-ubyte.gz": 10000}
    with pytest.raises(DataError):
        mnist.fetch(str(dest), mirrors=[mnist_server], log=lambda m: None)
    part = dest / "train-labels-idx1-ubyte.gz.part"
    assert part.exists() and part.stat().st_size == 10000
    mnist.fetch(str(dest), mirrors=[mnist_server], log=lambda m: None)
    assert ("train-labels-idx1-ubyte.gz", "bytes=10000-") in _RangeHandler.requests
    assert mnist.load("train", str(dest))[1].shape == (60000,)


def test_fetch_falls_back_to_next_mirror(mnist_server, tmp_path):
    dest = tmp_path / "mnist"
    bad = "http://127.0.0.1:9/"  # discard port: connection refused
    mnist.fetch(str(dest), mirrors=[bad, mnist_server], log=lambda m: None)
    assert mnist.load("test", str(dest))[0].shape == (10000, 784)
