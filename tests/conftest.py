import os

import pytest

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
README_MNIST = os.path.join(os.path.dirname(__file__), "..", "data", "mnist")   # where `spikefa data fetch` puts it


def _has_mnist(d):
    return any(os.path.isfile(os.path.join(d, "train-images-idx3-ubyte" + ext)) for ext in (".gz", ""))


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the original MNIST files: $SPIKEFA_MNIST, then data/mnist/ in the checkout
    (where README tells users to put it), then ../shared beside the checkout."""
    env = os.environ.get("SPIKEFA_MNIST")
    places = [env] if env else []
    places += [README_MNIST, SHARED_MNIST]
    d = next((p for p in places if _has_mnist(p)), None)
    if d is None:
        looked = f"$SPIKEFA_MNIST ({env or 'not set'}) and {os.path.abspath(README_MNIST)}"
        if os.environ.get("CI"):
            pytest.fail(f"MNIST not found in {looked}: CI must provide it (.ci/run sets SPIKEFA_MNIST)")
        pytest.skip(f"MNIST not found in {looked}; put the four IDX files in data/mnist/ "
                    f"(`spikefa data fetch mnist`) or set SPIKEFA_MNIST")
    return os.path.abspath(d)


@pytest.fixture(autouse=True)
def _abandoned_files_stay_in_their_test(monkeypatch):
    """A test that makes a write fail in-process abandons HDF5 objects, and spikefa then leaves the
    process with exit code 2 (see spikefa.runfile.write.abandon). That policy is for the process that
    met the failure, not for pytest: keep each test's abandoned objects to itself and take the
    exit hook away after it, so pytest's exit code says only whether the tests passed."""
    import atexit

    from spikefa.runfile import write as runfile

    monkeypatch.setattr(runfile, "_ABANDONED", [])
    yield
    if runfile._ABANDONED:
        atexit.unregister(runfile._exit_without_hdf5_cleanup)
