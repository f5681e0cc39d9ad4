"""Datasets for the examples and the demo: IDX files (MNIST's format) and Fashion-MNIST as
Debian's `dataset-fashion-mnist` package installs it.

Files are validated before use: a wrong magic number, dimensions that disagree with the file's
size or a truncated gzip stream give a ``ValueError`` naming the file.
"""

import gzip
import os
import struct

import numpy as np

__all__ = ["read_idx", "fashion_mnist", "FASHION_MNIST_DIR"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """The array in an IDX file (gzip-compressed when the name ends in .gz)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_TYPES[data[2]]), data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated inside its header")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    count = int(np.prod(dims, dtype=np.int64)) if ndim else 1
    if len(data) - 4 - 4 * ndim != count * dtype.itemsize:
        raise ValueError(f"{path}: the header promises {dims} values of {dtype.itemsize} bytes but the file "
                         f"holds {len(data) - 4 - 4 * ndim} bytes of data")
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def fashion_mnist(directory=None):
    """``(x_train, y_train, x_test, y_test)``: images as float32 in [0, 1] of shape (n, 784),
    labels as int64. Reads Debian's dataset-fashion-mnist files (``FASHION_MNIST_DIR``, or
    ``directory``)."""
    directory = directory or FASHION_MNIST_DIR
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    paths = []
    for n in names:
        for candidate in (os.path.join(directory, n + ".gz"), os.path.join(directory, n)):
            if os.path.exists(candidate):
                paths.append(candidate)
                break
        else:
            raise FileNotFoundError(f"Fashion-MNIST file {n}(.gz) not found in {directory}: install Debian's "
                                    "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)")
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise ValueError("Fashion-MNIST images and labels differ in count")
    flat = lambda a: (a.reshape(a.shape[0], -1).astype(np.float32) / 255)  # noqa: E731
    return flat(xtr), ytr.astype(np.int64), flat(xte), yte.astype(np.int64)
