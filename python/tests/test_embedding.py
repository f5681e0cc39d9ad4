"""TTEmbedding against NumPy float64 references: the table rebuilt from the cores with
np.einsum, rows and bags gathered from it, and core gradients by the chain rule through that
einsum (each core's gradient is the table gradient contracted with the other cores)."""

import numpy as np
import pytest

import tnswift
from tnswift import nn


def dense_table(cores, num_embeddings):
    """E[(i_1..i_d), (j_1..j_d)] by einsum over the cores (float64)."""
    d = len(cores)
    letters = "abcdefghijklmnop"
    bonds, rows, cols = letters[:d + 1], "ABCDEFGHIJKL"[:d], "MNOPQRSTUVWX"[:d]
    terms = [bonds[k] + rows[k] + cols[k] + bonds[k + 1] for k in range(d)]
    eq = ",".join(terms) + "->" + bonds[0] + rows + cols + bonds[d]
    full = np.einsum(eq, *[c.astype(np.float64) for c in cores])
    v = int(np.prod([c.shape[1] for c in cores]))
    dim = int(np.prod([c.shape[2] for c in cores]))
    return full.reshape(v, dim)[:num_embeddings], eq


def core_gradients(cores, table_grad):
    """d sum(E * G) / d core_k for G (padded rows to prod v), by einsum with the other cores
    (the outer bonds, of size 1, are squeezed out)."""
    d = len(cores)
    letters = "abcdefghijklmnop"
    bonds, rows, cols = letters[:d + 1], "ABCDEFGHIJKL"[:d], "MNOPQRSTUVWX"[:d]
    terms = [(bonds[k] if k else "") + rows[k] + cols[k] + (bonds[k + 1] if k < d - 1 else "") for k in range(d)]
    squeezed = [c.astype(np.float64).reshape(c.shape[1:] if k == 0 else c.shape)
                for k, c in enumerate(cores)]
    squeezed[-1] = squeezed[-1].reshape(squeezed[-1].shape[:-1])
    shape = [c.shape[1] for c in cores] + [c.shape[2] for c in cores]
    g = table_grad.reshape(shape)
    out = []
    for k in range(d):
        others = [j for j in range(d) if j != k]
        eq = ",".join([terms[j] for j in others] + [rows + cols]) + "->" + terms[k]
        out.append(np.einsum(eq, *[squeezed[j] for j in others], g).reshape(cores[k].shape))
    return out


def reference(layer, indices, offsets=None, bag_2d=False):
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    table, _ = dense_table(cores, layer.num_embeddings)
    idx = np.asarray(indices)
    rows = table[idx.reshape(-1)]
    if layer.padding_idx is not None:
        rows[idx.reshape(-1) == layer.padding_idx] = 0
    if layer.mode is None:
        return rows.reshape(idx.shape + (layer.embedding_dim,))
    flat = idx.reshape(-1)
    if bag_2d:
        offsets = np.arange(0, flat.size, idx.shape[1])
    bounds = list(offsets) + [flat.size]
    out = []
    for b in range(len(offsets)):
        sel = np.arange(bounds[b], bounds[b + 1])
        keep = sel if layer.padding_idx is None else sel[flat[sel] != layer.padding_idx]
        s = rows[keep].sum(axis=0) if keep.size else np.zeros(layer.embedding_dim)
        if layer.mode == "mean" and keep.size > 1:
            s = s / keep.size
        out.append(s)
    return np.array(out).reshape(len(offsets), layer.embedding_dim)


def table_gradient(layer, indices, dy, offsets=None, bag_2d=False):
    """dL/dE for L = sum(y * dy), as a (prod v, dim) array."""
    v = int(np.prod(layer.row_modes))
    g = np.zeros((v, layer.embedding_dim))
    flat = np.asarray(indices).reshape(-1)
    if layer.mode is None:
        rows_dy = dy.reshape(-1, layer.embedding_dim).astype(np.float64)
    else:
        if bag_2d:
            offsets = np.arange(0, flat.size, np.asarray(indices).shape[1])
        bounds = list(offsets) + [flat.size]
        rows_dy = np.zeros((flat.size, layer.embedding_dim))
        for b in range(len(offsets)):
            sel = np.arange(bounds[b], bounds[b + 1])
            keep = sel if layer.padding_idx is None else sel[flat[sel] != layer.padding_idx]
            scale = 1.0 / keep.size if layer.mode == "mean" and keep.size > 1 else 1.0
            rows_dy[keep] = dy[b] * scale
    for j, i in enumerate(flat):
        if i != layer.padding_idx:
            g[i] += rows_dy[j]
    return g


CASES = [
    # num_embeddings, dim, row_modes, col_modes, rank
    (6, 5, (7,), (5,), 1),
    (15, 6, (3, 5), (2, 3), 4),
    (11, 6, (3, 1, 4), (2, 1, 3), [2, 3]),
    (23, 12, (2, 3, 2, 2), (2, 2, 1, 3), [3, 2, 4]),
    (97, 10, None, None, 3),          # a prime: the default row modes are padded
]


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("case", CASES)
def test_rows_and_gradients_match_the_dense_table(case, dtype, tol):
    n, dim, rows, cols, rank = case
    order = len(rows) if rows else 3
    layer = nn.TTEmbedding(n, dim, rank=rank, n_modes=order, row_modes=rows, col_modes=cols, dtype=dtype, seed=5)
    assert int(np.prod(layer.row_modes)) >= n and int(np.prod(layer.col_modes)) == dim
    rng = np.random.default_rng(1)
    idx = rng.integers(0, n, size=(4, 7))
    idx[0, :3] = n - 1                      # repeated rows accumulate
    y = layer(idx)
    ref = reference(layer, idx)
    assert y.shape == (4, 7, dim) and y.dtype == dtype
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol * np.abs(ref).max())
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert layer.backward(dy) is None
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    expected = core_gradients(cores, table_gradient(layer, idx, dy))
    for (name, g), e in zip(layer.grads().items(), expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=tol * max(1.0, np.abs(e).max()), err_msg=name)
    np.testing.assert_allclose(layer.to_dense(), dense_table(cores, n)[0], rtol=0, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_bags_with_offsets_and_2d_input_and_padding(mode):
    layer = nn.TTEmbedding(30, 8, rank=3, row_modes=(2, 3, 5), col_modes=(2, 2, 2), padding_idx=4, mode=mode,
                           dtype=np.float64, seed=2)
    idx = np.array([4, 2, 9, 4, 4, 0, 29, 2, 4, 4])
    offsets = np.array([0, 3, 3, 6, 8])      # an empty bag and a bag of padding only
    y = layer(idx, offsets)
    np.testing.assert_allclose(y, reference(layer, idx, offsets), rtol=0, atol=1e-12)
    assert np.all(y[1] == 0) and np.all(y[4] == 0)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    layer.backward(dy)
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    expected = core_gradients(cores, table_gradient(layer, idx, dy, offsets))
    for g, e in zip(layer.grads().values(), expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-10 * max(1, np.abs(e).max()))
    idx2 = np.array([[1, 4, 7], [29, 29, 0]])
    y2 = layer(idx2)
    np.testing.assert_allclose(y2, reference(layer, idx2, bag_2d=True), rtol=0, atol=1e-12)
    dy2 = np.ones_like(y2)
    layer.backward(dy2)
    expected = core_gradients(cores, table_gradient(layer, idx2, dy2, bag_2d=True))
    for g, e in zip(layer.grads().values(), expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-10 * max(1, np.abs(e).max()))


def test_padding_row_gives_zeros_and_no_gradient():
    layer = nn.TTEmbedding(12, 6, rank=2, n_modes=2, padding_idx=-1, dtype=np.float64)
    assert layer.padding_idx == 11
    y = layer([11, 11, 3])
    assert np.all(y[:2] == 0) and np.any(y[2] != 0)
    layer.backward(np.ones_like(y))
    # The gradient equals the one from looking up row 3 alone (the padding rows add nothing).
    only = nn.TTEmbedding(12, 6, rank=2, n_modes=2, dtype=np.float64)
    for (name, p), q in zip(only.parameters().items(), layer.parameters().values()):
        p[...] = q
    only(np.array([3]))
    only.backward(np.ones((1, 6)))
    for g, h in zip(layer.grads().values(), only.grads().values()):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-14)


def test_from_dense_exact_and_eps_and_writable_parameters():
    exact = nn.TTEmbedding(30, 12, rank=2, row_modes=(2, 3, 5), col_modes=(2, 3, 2), dtype=np.float64, seed=4)
    table = exact.to_dense()
    fitted = nn.TTEmbedding.from_dense(table, rank=2, row_modes=(2, 3, 5), col_modes=(2, 3, 2))
    np.testing.assert_allclose(fitted.to_dense(), table, rtol=0, atol=1e-10 * np.abs(table).max())
    noisy = np.random.default_rng(0).standard_normal((29, 10))
    approx = nn.TTEmbedding.from_dense(noisy, eps=0.3, n_modes=2)
    assert np.linalg.norm(approx.to_dense() - noisy) <= 0.3 * np.linalg.norm(noisy) * (1 + 1e-9)
    # parameters() are the storage: writing them changes the lookups
    p = next(iter(fitted.parameters().values()))
    p *= 2
    np.testing.assert_allclose(fitted([5]), 2 * table[5:6], rtol=1e-10, atol=1e-12)


def test_ten_million_rows_stay_small():
    layer = nn.TTEmbedding(10_000_000, 64, rank=16, n_modes=3)
    assert layer.n_params * 4 < 4_000_000 and layer.compression > 100
    y = layer(np.array([0, 9_999_999, 1_234_567, 1_234_567]))
    assert y.shape == (4, 64) and np.array_equal(y[2], y[3])
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    # row 9_999_999 by chaining the core slices
    digits, rest = [], 9_999_999
    for v in reversed(layer.row_modes):
        digits.append(rest % v)
        rest //= v
    digits.reverse()
    row = cores[0][0, digits[0]]                       # (d1, r1)
    for k in range(1, 3):
        row = np.einsum("pr,rds->pds", row, cores[k][:, digits[k]]).reshape(-1, cores[k].shape[3])
    np.testing.assert_allclose(y[1], row[:, 0], rtol=1e-4, atol=1e-5 * np.abs(row).max())


def test_bad_input_raises_clearly():
    layer = nn.TTEmbedding(10, 4, rank=2, n_modes=2)
    with pytest.raises(ValueError, match="out of range"):
        layer([1, 10])
    with pytest.raises(ValueError, match="out of range"):
        layer([-1])
    with pytest.raises(TypeError, match="integers"):
        layer([0.5])
    with pytest.raises(tnswift.ArgumentError, match="forward"):
        nn.TTEmbedding(10, 4, rank=2).backward(np.zeros((1, 4), np.float32))
    layer([1, 2])
    with pytest.raises(tnswift.ShapeError, match="dy has shape"):
        layer.backward(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        layer.backward(np.full((2, 4), np.nan, np.float32))
    with pytest.raises(tnswift.DTypeError, match="dtype float64"):
        layer.backward(np.zeros((2, 4), np.float64))
    for kwargs, message in [(dict(rank=0), "rank must be at least 1"), (dict(row_modes=(3, 3)), "cover 9 rows"),
                            (dict(col_modes=(3, 2)), "multiply to 6, not embedding_dim"),
                            (dict(padding_idx=10), "padding_idx 10 is not a row"), (dict(n_modes=0), "n_modes must be"),
                            (dict(mode="max"), "mode must be None"), (dict(std=-1.0), "std must be finite")]:
        with pytest.raises((ValueError, TypeError), match=message):
            nn.TTEmbedding(10, 4, **{"rank": 2, "n_modes": 2, **kwargs})
    bags = nn.TTEmbedding(10, 4, rank=2, n_modes=2, mode="sum")
    with pytest.raises(ValueError, match="offsets"):
        bags([1, 2, 3], [1])
    with pytest.raises(ValueError, match="offsets"):
        bags([1, 2, 3], [0, 4])
    with pytest.raises(tnswift.ShapeError, match="bags need 2-D indices"):
        bags([1, 2, 3])
    with pytest.raises(tnswift.ArgumentError, match="offsets are for bags"):
        layer([1], [0])
    with pytest.raises(ValueError, match="exactly one of rank or eps"):
        nn.TTEmbedding.from_dense(np.zeros((4, 4)), rank=1, eps=0.1)


def test_empty_lookups():
    layer = nn.TTEmbedding(10, 4, rank=2, n_modes=2, dtype=np.float64)
    y = layer(np.zeros((0,), np.int64))
    assert y.shape == (0, 4)
    layer.backward(np.zeros((0, 4)))
    assert all(np.all(g == 0) for g in layer.grads().values())


@pytest.mark.parametrize("rows", [(10, 10, 40), (40, 100, 1)])
def test_large_batches_take_the_parallel_paths_and_match(rows):
    # 4096 lookups, wide enough that the levels split over the workers: (10, 10, 40) has few
    # parents per level (chunk-private parent sums), (40, 100, 1) as many parents as keys
    # (every share kept, then summed per parent).
    n = int(np.prod(rows))
    layer = nn.TTEmbedding(n, 256, rank=16, row_modes=rows, col_modes=(4, 4, 16), dtype=np.float64, seed=3)
    idx = np.random.default_rng(0).integers(0, n, 4096)
    y = layer(idx)
    ref = reference(layer, idx)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    dy = np.random.default_rng(1).standard_normal(y.shape)
    layer.backward(dy)
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    for g, e in zip(layer.grads().values(), core_gradients(cores, table_gradient(layer, idx, dy))):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-10 * np.abs(e).max())
