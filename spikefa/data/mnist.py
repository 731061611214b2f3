"""MNIST: the four original IDX files, found, checked against their known checksums, and read.

Where the files are looked for, in order:
  1. an explicit ``path`` argument (a folder),
  2. the environment variable ``SPIKEFA_MNIST`` (a folder),
  3. ``data/mnist`` under the current folder, then under the project checkout.
Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).
``spikefa data fetch mnist`` downloads them (see :func:`fetch`).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request

import numpy as np

from ..errors import DataError

ENV_VAR = "SPIKEFA_MNIST"
FILES = {
    # name: (md5 of the .gz file, md5 of the uncompressed file, number of items)
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb", 60000),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624", 60000),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea", 10000),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637", 10000),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
HOW_TO_GET = f"run 'spikefa data fetch mnist', or set {ENV_VAR} to a folder holding the four MNIST files"


def candidate_dirs(path: str | None = None) -> list[str]:
    if path:
        return [path]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(os.environ[ENV_VAR])
    dirs.append(os.path.join(os.getcwd(), "data", "mnist"))
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dirs.append(os.path.join(checkout, "data", "mnist"))
    seen, out = set(), []
    for d in dirs:
        a = os.path.abspath(d)
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate(name: str, path: str | None = None) -> str:
    """The path of one MNIST file (gz or raw) or a DataError naming where it looked."""
    looked = candidate_dirs(path)
    for d in looked:
        for fname in (name + ".gz", name):
            p = os.path.join(d, fname)
            if os.path.isfile(p):
                return p
    raise DataError(f"MNIST file {name}(.gz) not found (looked in {', '.join(looked)}); {HOW_TO_GET}")


def verify(p: str) -> None:
    name = os.path.basename(p)
    gz = name.endswith(".gz")
    expected = FILES[name[:-3] if gz else name][0 if gz else 1]
    got = _md5(p)
    if got != expected:
        raise DataError(f"MNIST file {p} is corrupt (md5 {got}, expected {expected}); delete it and "
                        f"run 'spikefa data fetch mnist'")


def _read_idx(p: str) -> np.ndarray:
    opener = gzip.open if p.endswith(".gz") else open
    try:
        with opener(p, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"MNIST file {p} cannot be read ({exc}); delete it and run 'spikefa data fetch mnist'") from None
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split: str = "train", path: str | None = None, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 784) uint8 and labels (n,) uint8 of the ``train`` or ``test`` split."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DataError(f"MNIST split {split!r} unknown; use 'train' or 'test'")
    img_p = locate(f"{prefix}-images-idx3-ubyte", path)
    lab_p = locate(f"{prefix}-labels-idx1-ubyte", path)
    if check:
        verify(img_p)
        verify(lab_p)
    images = _read_idx(img_p).reshape(-1, 784)
    labels = _read_idx(lab_p)
    return images, labels


def as_float(images: np.ndarray) -> np.ndarray:
    """Pixels scaled to [0, 1] as float32 (the spiking network's spike probabilities before capping)."""
    return (images.astype(np.float32) / np.float32(255.0))


# -- download --------------------------------------------------------------------------------------
def _download(url: str, dest: str, timeout: float = 30.0) -> None:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file."""
    part = dest + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        mode = "ab" if (have and status == 206) else "wb"
        expected = resp.headers.get("Content-Length")
        got = 0
        with open(part, mode) as fh:
            while True:
                try:
                    block = resp.read(1 << 16)
                except http.client.HTTPException as exc:
                    raise ConnectionError(f"connection dropped after {got} bytes ({exc!r})") from None
                if not block:
                    break
                fh.write(block)
                got += len(block)
        if expected is not None and got < int(expected):
            # keep the partial file: the next fetch resumes from here with a Range request
            raise ConnectionError(f"connection dropped after {got} of {expected} bytes")


def fetch(dest: str = os.path.join("data", "mnist"), mirrors=MIRRORS, log=print) -> str:
    """Download the four files into ``dest`` from the first mirror that works; verify; atomic rename.

    Files already present and correct are skipped; an interrupted download resumes.
    """
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest} ({exc.strerror}); choose another --dir") from None
    for name, (md5_gz, _, _) in FILES.items():
        final = os.path.join(dest, name + ".gz")
        if os.path.exists(final) and _md5(final) == md5_gz:
            log(f"{final}: present and verified")
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name + ".gz"
            try:
                _download(url, final)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            got = _md5(final + ".part")
            if got != md5_gz:
                os.remove(final + ".part")
                errors.append(f"{url}: checksum mismatch ({got})")
                continue
            os.replace(final + ".part", final)
            log(f"{final}: downloaded from {mirror} and verified")
            break
        else:
            raise DataError(f"could not download {name}.gz ({'; '.join(errors)}); check the network or "
                            f"copy the files into {dest} by hand")
    return dest
