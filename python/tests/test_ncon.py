"""ncon (TensorNetwork convention) against numpy.einsum."""

import numpy as np
import pytest

import tnswift
from tn_helpers import assert_close, reference


def check(tensors, network, eq, **kw):
    res = tnswift.ncon(tensors, network, **kw)
    ref, mag = reference(eq, tensors)
    dt = np.result_type(*tensors)
    assert np.shape(res) == ref.shape, f"{network}: shape {np.shape(res)} != {ref.shape}"
    assert np.asarray(res).dtype == dt
    assert_close(res, ref, mag, 1e-4 if dt == np.float32 else 1e-10, str(network))
    return res


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_matmul(dtype, rng):
    a = rng.standard_normal((3, 4)).astype(dtype)
    b = rng.standard_normal((4, 5)).astype(dtype)
    check([a, b], [[-1, 1], [1, -2]], "ij,jk->ik")


def test_default_output_order_is_minus_one_first(rng):
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 5))
    # -2 appears before -1 in the network: the output is still (-1, -2)
    check([a, b], [[-2, 1], [1, -1]], "ij,jk->ki")


def test_full_contraction(rng):
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 3))
    res = check([a, b], [[1, 2], [2, 1]], "ij,ji->")
    assert np.ndim(res) == 0


def test_trace(rng):
    a = rng.standard_normal((5, 5))
    res = check([a], [[1, 1]], "ii->")
    assert abs(float(res) - np.trace(a)) <= 1e-12 * np.abs(a).sum()


def test_partial_trace(rng):
    a = rng.standard_normal((4, 3, 4))
    b = rng.standard_normal((3, 2))
    check([a, b], [[1, 2, 1], [2, -1]], "iji,jk->k")


def test_out_order(rng):
    a = rng.standard_normal((2, 3, 4))
    b = rng.standard_normal((4, 5))
    check([a, b], [[-1, -2, 1], [1, -3]], "ijk,kl->lij", out_order=[-3, -1, -2])


def test_con_order_does_not_change_result(rng):
    shapes = [(3, 4), (4, 5, 6), (6, 2), (5, 2, 3, 4)]
    ts = [rng.standard_normal(s) for s in shapes]
    net = [[1, 2], [2, 3, 4], [4, 5], [3, 5, 1, -1]]
    eq = "ab,bcd,de,ceaz->z"
    r1 = check(ts, net, eq)
    r2 = check(ts, net, eq, con_order=[5, 4, 3, 2, 1])
    r3 = check(ts, net, eq, con_order=[2, 4, 1, 3, 5])
    np.testing.assert_allclose(r1, r2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r1, r3, rtol=1e-12, atol=1e-12)


def test_mps_norm(rng):
    """<psi|psi> of a 4-site MPS with bond 3 and physical dim 2."""
    d, chi = 2, 3
    a1 = rng.standard_normal((d, chi))
    a2 = rng.standard_normal((chi, d, chi))
    a3 = rng.standard_normal((chi, d, chi))
    a4 = rng.standard_normal((chi, d))
    ts = [a1, a2, a3, a4, a1, a2, a3, a4]
    net = [[1, 5], [5, 2, 6], [6, 3, 7], [7, 4],
           [1, 8], [8, 2, 9], [9, 3, 10], [10, 4]]
    check(ts, net, "ae,ebf,fcg,gd,ah,hbi,icj,jd->")


def test_tt_layer_as_ncon(rng):
    cores = [rng.standard_normal(s) for s in [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8)]]
    x = rng.standard_normal((5, 8, 8, 8, 8))
    # a..d = 1..4 contracted, i,j,k = 5,6,7; outputs n,e,f,g,h = -1..-5
    net = [[1, -2, 5], [2, -3, 5, 6], [3, -4, 6, 7], [4, -5, 7], [-1, 1, 2, 3, 4]]
    check(cores + [x], net, "aei,bfij,cgjk,dhk,nabcd->nefgh")


def test_outer_product_only(rng):
    a = rng.standard_normal(3)
    b = rng.standard_normal(4)
    check([a, b], [[-1], [-2]], "i,j->ij")


def test_mixed_dtypes_promote(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5))
    res = check([a, b], [[-1, 1], [1, -2]], "ij,jk->ik")
    assert res.dtype == np.float64
