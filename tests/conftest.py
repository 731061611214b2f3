import os

import pytest

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the original MNIST files (SPIKEFA_MNIST, or ../shared beside the checkout)."""
    d = os.environ.get("SPIKEFA_MNIST") or SHARED_MNIST
    if not os.path.isfile(os.path.join(d, "train-images-idx3-ubyte.gz")):
        if os.environ.get("CI"):
            pytest.fail(f"MNIST not found in {d}: CI must provide it (.ci/run sets SPIKEFA_MNIST)")
        pytest.skip(f"MNIST not found in {d}; set SPIKEFA_MNIST to run the MNIST tests")
    return os.path.abspath(d)
