"""IDX reading (written here byte by byte) and the Fashion-MNIST loader."""

import gzip
import os
import struct

import numpy as np
import pytest

from tnswift import datasets


def write_idx(path, array, code=0x08, compress=False):
    data = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape) + array.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(p, a, compress=compress)
    np.testing.assert_array_equal(datasets.read_idx(p), a)
    f = np.linspace(-1, 1, 6).astype(">f4").reshape(2, 3)
    write_idx(tmp_path / "f.idx", f, code=0x0D)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "f.idx"), f.astype(np.float32))


def test_broken_idx_files_give_value_errors(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    good = tmp_path / "good.idx"
    write_idx(good, a)
    raw = good.read_bytes()
    cases = {"truncated": raw[:-1], "header": raw[:6], "magic": b"\x01" + raw[1:], "type": raw[:2] + b"\x77" + raw[3:],
             "longer": raw + b"\x00", "empty": b""}
    for name, data in cases.items():
        p = tmp_path / f"{name}.idx"
        p.write_bytes(data)
        with pytest.raises(ValueError):
            datasets.read_idx(p)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-5])
    with pytest.raises(ValueError):
        datasets.read_idx(tmp_path / "bad.gz")


def test_fashion_mnist_loader(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), compress=True)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8), compress=True)
    xtr, ytr, xte, yte = datasets.fashion_mnist(tmp_path)
    assert xtr.shape == (5, 784) and xte.shape == (3, 784) and xtr.dtype == np.float32
    assert 0 <= xtr.min() and xtr.max() <= 1 and ytr.dtype == np.int64
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        datasets.fashion_mnist(tmp_path / "missing")


@pytest.mark.skipif(not os.path.exists(datasets.FASHION_MNIST_DIR), reason="dataset-fashion-mnist not installed")
def test_the_installed_dataset_reads():
    xtr, ytr, xte, yte = datasets.fashion_mnist()
    assert xtr.shape == (60000, 784) and xte.shape == (10000, 784)
    assert set(np.unique(ytr)) == set(range(10))
