"""The seed examples of tnswift.einsum, each against numpy.einsum in float64."""

import threading

import numpy as np
import pytest

import tnswift
from tn_helpers import assert_close, reference, rtol_for

DTYPES = [np.float32, np.float64]

TT_EQ = "aei,bfij,cgjk,dhk,nabcd->nefgh"
TT_CORE_SHAPES = [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8)]

SEED = [
    # (name, equation, shapes)
    ("sum", "i->", [(7,)]),
    ("row_sums", "ij->i", [(4, 6)]),
    ("column_sums", "ij->j", [(4, 6)]),
    ("inner", "i,i->", [(9,)] * 2),
    ("outer", "i,j->ij", [(3,), (5,)]),
    ("matvec", "ij,j->i", [(4, 6), (6,)]),
    ("vecmat", "i,ij->j", [(4,), (4, 6)]),
    ("matmul", "ij,jk->ik", [(5, 7), (7, 3)]),
    ("matmul_large", "ij,jk->ik", [(64, 80), (80, 48)]),
    ("matmul_transposed_out", "ij,jk->ki", [(5, 7), (7, 3)]),
    ("three_tensor", "ijk,jil->kl", [(3, 4, 5), (4, 3, 6)]),
    ("trace", "ii->", [(5, 5)]),
    ("diagonal", "ii->i", [(5, 5)]),
    ("transpose", "ij->ji", [(3, 4)]),
    ("permute3", "ijk->kij", [(2, 3, 4)]),
    ("batched_matmul", "bij,bjk->bik", [(3, 4, 5), (3, 5, 2)]),
    ("bilinear", "i,ij,j->", [(4,), (4, 5), (5,)]),
    ("hadamard", "ij,ij->ij", [(3, 4), (3, 4)]),
    ("chain4", "ab,bc,cd,de->ae", [(3, 4), (4, 5), (5, 6), (6, 2)]),
    ("tt_small", TT_EQ, TT_CORE_SHAPES + [(4, 8, 8, 8, 8)]),
    # implicit outputs
    ("implicit_matmul", "ij,jk", [(5, 7), (7, 3)]),
    ("implicit_transpose", "ba", [(3, 4)]),
    ("implicit_trace", "ii", [(4, 4)]),
    ("implicit_inner", "i,i", [(6,), (6,)]),
    ("implicit_outer", "j,i", [(2,), (3,)]),
    ("implicit_uppercase_order", "Bab", [(2, 3, 4)]),
    # ellipsis
    ("ell_batched_matmul", "...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 2)]),
    ("ell_broadcast_matmul", "...ij,jk->...ik", [(2, 3, 4, 5), (5, 2)]),
    ("ell_broadcast_batch", "...ij,...jk->...ik", [(2, 1, 4, 5), (3, 5, 2)]),
    ("ell_diag", "...ii->...i", [(3, 4, 4)]),
    ("ell_trace", "ii...->...", [(4, 4, 3)]),
    ("ell_sum_last", "...i->...", [(2, 3, 4)]),
    ("ell_elementwise", "...,...->...", [(3, 1), (4,)]),
    ("ell_implicit", "...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
    ("ell_middle", "i...j,j...k->i...k", [(3, 2, 4), (4, 2, 5)]),
    ("ell_empty", "...ij,jk->...ik", [(3, 4), (4, 5)]),
    ("ell_scalar_op", "...,ij->ij...", [(), (2, 3)]),
    ("ell_transposed_out", "ij...->...ji", [(2, 3, 4, 5)]),
    # named-label broadcasting of size-1 dimensions, as numpy allows
    ("named_broadcast", "ij,j->i", [(3, 4), (1,)]),
    ("named_broadcast2", "ij,ij->ij", [(3, 1), (1, 4)]),
    # size-0 and size-1 dimensions
    ("empty_sum", "ij->i", [(3, 0)]),
    ("empty_matmul", "ij,jk->ik", [(3, 0), (0, 4)]),
    ("empty_out", "ij,jk->ik", [(0, 2), (2, 4)]),
    ("ones", "ij,jk->ik", [(1, 1), (1, 1)]),
    ("scalar_operands", ",->", [(), ()]),
    ("scalar_times_matrix", ",ij->ij", [(), (2, 3)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,eq,shapes", SEED, ids=[s[0] for s in SEED])
def test_seed(name, eq, shapes, dtype, rng):
    ops = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ref, mag = reference(eq, ops, optimize=(name.startswith("tt")))
    res = tnswift.einsum(eq, *ops)
    if ref.ndim == 0:
        assert isinstance(res, np.generic), f"{eq}: 0-d result must be a numpy scalar"
    else:
        assert isinstance(res, np.ndarray)
    assert np.asarray(res).dtype == dtype
    assert np.shape(res) == ref.shape
    assert_close(res, ref, mag, rtol_for(dtype), eq)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_seed_values_exact(dtype):
    """Hand-checked numbers, independent of numpy.einsum."""
    a = np.arange(6, dtype=dtype).reshape(2, 3)          # [[0,1,2],[3,4,5]]
    b = np.arange(3, dtype=dtype)                        # [0,1,2]
    assert float(tnswift.einsum("ij->", a)) == 15.0
    np.testing.assert_array_equal(tnswift.einsum("ij->i", a), [3, 12])
    np.testing.assert_array_equal(tnswift.einsum("ij->j", a), [3, 5, 7])
    np.testing.assert_array_equal(tnswift.einsum("ij,j->i", a, b), [5, 14])
    assert float(tnswift.einsum("i,i->", b, b)) == 5.0
    np.testing.assert_array_equal(tnswift.einsum("i,j->ij", b, b), np.outer(b, b))
    np.testing.assert_array_equal(tnswift.einsum("ij->ji", a), a.T)
    m = np.arange(9, dtype=dtype).reshape(3, 3)
    assert float(tnswift.einsum("ii->", m)) == 12.0
    np.testing.assert_array_equal(tnswift.einsum("ii->i", m), [0, 4, 8])
    np.testing.assert_array_equal(tnswift.einsum("ij,jk->ik", a, m), a @ m)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tt_layer_w1_shapes(dtype, rng):
    """The seed TT layer with W1's core shapes and a batch of 32."""
    cores = [rng.standard_normal(s).astype(dtype) for s in TT_CORE_SHAPES]
    x = rng.standard_normal((32, 8, 8, 8, 8)).astype(dtype)
    ref, mag = reference(TT_EQ, cores + [x], optimize=True)
    for opt in ("auto", "optimal", "greedy"):
        res = tnswift.einsum(TT_EQ, *cores, x, optimize=opt)
        assert res.shape == (32, 2, 2, 2, 2)
        assert res.dtype == dtype
        assert_close(res, ref, mag, rtol_for(dtype), f"W1 optimize={opt}")


def test_tt_layer_matches_dense_weight(rng):
    """TT layer = reconstruct the dense weight, then a GEMM (an independent check)."""
    cores = [rng.standard_normal(s) for s in TT_CORE_SHAPES]
    x = rng.standard_normal((8, 8, 8, 8, 8))
    w = np.einsum("aei,bfij,cgjk,dhk->abcdefgh", *cores).reshape(4096, 16)
    expected = (x.reshape(8, 4096) @ w).reshape(8, 2, 2, 2, 2)
    res = tnswift.einsum(TT_EQ, *cores, x)
    mag = (np.abs(x).reshape(8, 4096) @ np.abs(np.einsum(
        "aei,bfij,cgjk,dhk->abcdefgh", *[np.abs(c) for c in cores]).reshape(4096, 16)))
    assert_close(res, expected, mag.reshape(8, 2, 2, 2, 2), 1e-10, "TT vs dense weight")


@pytest.mark.parametrize("opt", ["auto", "optimal", "greedy", True, False])
def test_optimize_modes_agree(opt, rng):
    ops = [rng.standard_normal(s) for s in [(3, 4), (4, 5), (5, 6), (6, 3)]]
    eq = "ab,bc,cd,da->"
    ref, mag = reference(eq, ops)
    assert_close(tnswift.einsum(eq, *ops, optimize=opt), ref, mag, 1e-10, str(opt))


def test_interleaved_form(rng):
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 5))
    ref, mag = reference("ij,jk->ik", [a, b])
    assert_close(tnswift.einsum(a, [0, 1], b, [1, 2], [0, 2]), ref, mag, 1e-12, "interleaved")
    # implicit output in interleaved form
    assert_close(tnswift.einsum(a, [0, 1], b, [1, 2]), ref, mag, 1e-12, "interleaved implicit")
    # ellipsis in interleaved form
    c = rng.standard_normal((2, 3, 4))
    ref, mag = reference("...j,jk->...k", [c, b])
    assert_close(tnswift.einsum(c, [Ellipsis, 1], b, [1, 2], [Ellipsis, 2]), ref, mag, 1e-12,
                 "interleaved ellipsis")
    # trace
    m = rng.standard_normal((4, 4))
    assert abs(float(tnswift.einsum(m, [0, 0])) - np.trace(m)) < 1e-12 * np.abs(m).sum()


def test_mixed_dtypes_promote(rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3))
    res = tnswift.einsum("ij,jk->ik", a, b)
    assert res.dtype == np.float64
    ref, mag = reference("ij,jk->ik", [a, b])
    assert_close(res, ref, mag, 1e-10, "mixed")
    s = tnswift.einsum("i,i->", a[0], b[:, 0])
    assert isinstance(s, np.float64)
    expected = float(np.dot(a[0].astype(np.float64), b[:, 0]))
    assert abs(float(s) - expected) <= 1e-12 * np.abs(a[0] * b[:, 0]).sum()


def test_scalar_result_types(rng):
    a32 = rng.standard_normal(5).astype(np.float32)
    a64 = rng.standard_normal(5)
    assert type(tnswift.einsum("i->", a32)) is np.float32
    assert type(tnswift.einsum("i->", a64)) is np.float64
    assert type(tnswift.einsum("i,i", a64, a64)) is np.float64
    out = np.zeros((), dtype=np.float64)
    r = tnswift.einsum("i,i->", a64, a64, out=out)
    assert r is out
    assert abs(float(out) - a64 @ a64) <= 1e-12 * (a64 @ a64)


def test_out_argument(rng):
    a = rng.standard_normal((4, 5))
    b = rng.standard_normal((5, 6))
    out = np.full((4, 6), np.nan)
    ref, mag = reference("ij,jk->ik", [a, b])
    r = tnswift.einsum("ij,jk->ik", a, b, out=out)
    assert r is out
    assert_close(out, ref, mag, 1e-12, "out=")
    # strided out
    big = np.full((4, 12), np.nan)
    r = tnswift.einsum("ij,jk->ik", a, b, out=big[:, ::2])
    assert_close(big[:, ::2], ref, mag, 1e-12, "strided out=")
    assert np.isnan(big[:, 1::2]).all(), "out= wrote outside its view"


def test_one_expression_many_threads(rng):
    """One plan executed from several threads at once gives every caller its own answer."""
    expr = tnswift.contract_expression("ij,jk->ik", (40, 50), (50, 30), dtype="float64")
    inputs = [(rng.standard_normal((40, 50)), rng.standard_normal((50, 30))) for _ in range(8)]
    results = [None] * len(inputs)
    errors = []

    def work(k):
        try:
            for _ in range(20):
                results[k] = expr(*inputs[k])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (a, b), r in zip(inputs, results):
        assert_close(r, *reference("ij,jk->ik", [a, b]), 1e-12, "threaded")
