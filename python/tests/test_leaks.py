"""Leaks and reference counts of every Python entry point that exists so far.

Each entry point is called a few thousand times after a warm-up; the resident set size must
stay flat (a leak of even 100 bytes per call would show as 300 KB here; the bound allows
allocator noise). TNSWIFT_LEAK_CALLS raises the count (the long profile uses 100,000).
Reference counts of the inputs and of a returned array must be unchanged by the calls.
"""

import os
import sys
import tempfile

import numpy as np
import pytest

import tnswift
from tnswift import decompose as D
from tnswift import nn, optim

CALLS = int(os.environ.get("TNSWIFT_LEAK_CALLS", "3000"))
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


rng = np.random.default_rng(0)
A = rng.standard_normal((6, 5))
B = rng.standard_normal((5, 4))
X3 = rng.standard_normal((4, 5, 3))
W = rng.standard_normal((16, 16))
EXPR = tnswift.contract_expression("ij,jk->ik", A.shape, B.shape, dtype="float64")
DY = np.ones((6, 4))


LAYER = nn.TTLinear((4, 4), (2, 4), rank=3, dtype=np.float64)
XL = rng.standard_normal((8, 16))
DYL = rng.standard_normal((8, 8))
MODEL = nn.Sequential(LAYER, nn.ReLU(), nn.Dropout(0.1), nn.CPLinear(8, 4, rank=2, dtype=np.float64))
ADAM = optim.Adam([LAYER], lr=1e-3)
MODEL_FILE = os.path.join(tempfile.mkdtemp(prefix="tnswift-leaks-"), "model.safetensors")
MODEL.save(MODEL_FILE)
CORRUPT_FILE = MODEL_FILE + ".bad"
with open(MODEL_FILE, "rb") as f, open(CORRUPT_FILE, "wb") as g:
    g.write(f.read()[:-5])


CONV = nn.CPConv2d(2, 3, 3, rank=2, padding=1, dtype=np.float64)
XC = rng.standard_normal((2, 2, 6, 6))
DYC = rng.standard_normal((2, 3, 6, 6))


def conv_lifecycle():
    conv = nn.TuckerConv2d(2, 3, 3, rank=2, stride=2, dtype=np.float64)
    conv.backward(np.ones_like(conv(XC)))


EMB = nn.TTEmbedding(1000, 16, rank=4, mode="mean", dtype=np.float64)
IDX = rng.integers(0, 1000, 64)
OFFSETS = np.arange(0, 64, 8)


def embedding_lifecycle():
    emb = nn.TTEmbedding(500, 8, rank=3, padding_idx=2, dtype=np.float64)
    emb.backward(np.ones_like(emb(IDX % 500)))


def bad_embedding():
    with pytest.raises(ValueError):
        EMB(np.array([1000]), np.array([0]))


def layer_lifecycle():
    layer = nn.CPLinear((4, 4), (2, 4), rank=3, dtype=np.float64)
    layer(XL)
    layer.backward(DYL)


def training_step():
    loss, grad = nn.cross_entropy(MODEL(XL), np.arange(8) % 4)
    MODEL.backward(grad)
    ADAM.step()


def bad_load():
    with pytest.raises(ValueError):
        nn.load(CORRUPT_FILE)


def bad_einsum():
    with pytest.raises(tnswift.ShapeError):
        tnswift.einsum("ij,jk->ik", A, A)


ENTRY_POINTS = {
    "einsum": lambda: tnswift.einsum("ij,jk->ik", A, B),
    "einsum error": bad_einsum,
    "plan create/run/destroy": lambda: tnswift.contract_expression("ij,jk->ik", A.shape, B.shape, dtype="float64")(A, B),
    "plan run": lambda: EXPR(A, B),
    "plan backward": lambda: EXPR.backward(DY, A, B),
    "contract_path": lambda: tnswift.contract_path("ij,jk->ik", A, B),
    "ncon": lambda: tnswift.ncon([A, B], [[-1, 1], [1, -2]]),
    "tensor_train": lambda: D.tensor_train(X3, rank=2),
    "tt_matrix": lambda: D.tt_matrix(W, [4, 4], [4, 4], rank=3),
    "tt round/inner/add": lambda: (D.tensor_train(X3, rank=2) + D.tensor_train(X3, rank=2)).round(eps=0.1).norm(),
    "parafac": lambda: D.parafac(X3, 2, n_iter_max=3),
    "tucker": lambda: D.tucker(X3, [2, 2, 2], n_iter_max=2),
    "layer create/forward/backward/destroy": layer_lifecycle,
    "layer forward+backward": lambda: LAYER.backward(DYL) if LAYER(XL) is not None else None,
    "conv create/forward/backward/destroy": conv_lifecycle,
    "conv forward+backward": lambda: CONV.backward(DYC) if CONV(XC) is not None else None,
    "embedding create/forward/backward/destroy": embedding_lifecycle,
    "embedding bags forward+backward": lambda: EMB.backward(np.ones((8, 16))) if EMB(IDX, OFFSETS) is not None else None,
    "embedding error": bad_embedding,
    "training step (model, loss, Adam)": training_step,
    "model save": lambda: MODEL.save(MODEL_FILE),
    "model load": lambda: nn.load(MODEL_FILE),
    "model load error": bad_load,
}

SLOW = ("parafac", "tucker", "tt round/inner/add", "model save", "model load", "layer create/forward/backward/destroy",
        "conv create/forward/backward/destroy", "embedding create/forward/backward/destroy")


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_rss_stays_flat(name):
    call = ENTRY_POINTS[name]
    calls = CALLS if name not in SLOW else max(CALLS // 3, 500)
    for _ in range(300):
        call()
    before = rss()
    for _ in range(calls):
        call()
    grown = rss() - before
    assert grown < 2 * 2**20, f"{name}: RSS grew by {grown / 1024:.0f} KiB over {calls} calls"


def test_reference_counts_are_unchanged():
    out = np.empty((6, 4))
    arrays = [A, B, out, DY, XL, DYL]
    LAYER(XL)  # the layer holds its last input for backward: one reference, taken here
    before = [sys.getrefcount(a) for a in arrays]
    for _ in range(100):
        tnswift.einsum("ij,jk->ik", A, B, out=out)
        EXPR(A, B, out=out)
        EXPR.backward(DY, A, B)
        D.tensor_train(X3, rank=2)
        LAYER(XL)
        LAYER.backward(DYL)
    assert [sys.getrefcount(a) for a in arrays] == before
    y = tnswift.einsum("ij,jk->ik", A, B)
    assert sys.getrefcount(y) == 2   # the local name and getrefcount's argument
