"""Smoke test: the package imports and its main entry points agree with NumPy."""

import numpy as np
import pytest

import tnswift


def test_einsum_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 5))
    np.testing.assert_allclose(tnswift.einsum("ij,jk->ik", a, b), a @ b, rtol=1e-12)


def test_contract_expression_forward_and_backward():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    expr = tnswift.contract_expression("ij,jk->ik", a.shape, b.shape, dtype="float32")
    np.testing.assert_allclose(expr(a, b), a @ b, rtol=1e-5, atol=1e-6)
    dy = np.ones((2, 4), np.float32)
    ga, gb = expr.backward(dy, a, b)
    np.testing.assert_allclose(ga, dy @ b.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, a.T @ dy, rtol=1e-5, atol=1e-6)


def test_ncon_matrix_product():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(tnswift.ncon([a, b], [[-1, 1], [1, -2]]), a @ b)


def test_errors_are_typed():
    with pytest.raises(tnswift.DTypeError):
        tnswift.einsum("ij->ji", None)
    with pytest.raises(tnswift.ShapeError):
        tnswift.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
