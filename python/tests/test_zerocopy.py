"""Inputs are read in place; big inputs are not copied; out may alias an input."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tnswift
from tn_helpers import assert_close, reference, rtol_for


def operand_address(expr, i):
    plan = expr._plan
    return int(plan.last_operand_address(i))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_contiguous_inputs_read_in_place(dtype, rng):
    a = rng.standard_normal((30, 40)).astype(dtype)
    b = rng.standard_normal((40, 20)).astype(dtype)
    expr = tnswift.contract_expression("ij,jk->ik", a.shape, b.shape, dtype=dtype)
    res = expr(a, b)
    assert operand_address(expr, 0) == a.ctypes.data
    assert operand_address(expr, 1) == b.ctypes.data
    assert_close(res, *reference("ij,jk->ik", [a, b]), rtol_for(dtype), "contiguous")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transposed_view_read_in_place(dtype, rng):
    base = rng.standard_normal((40, 30)).astype(dtype)
    a = base.T  # (30, 40), F-contiguous: BLAS reads it transposed, no copy needed
    b = rng.standard_normal((40, 20)).astype(dtype)
    bt = rng.standard_normal((20, 40)).astype(dtype).T
    expr = tnswift.contract_expression("ij,jk->ik", a.shape, b.shape, dtype=dtype)
    res = expr(a, bt)
    assert operand_address(expr, 0) == base.ctypes.data == a.ctypes.data
    assert operand_address(expr, 1) == bt.ctypes.data
    assert_close(res, *reference("ij,jk->ik", [a, bt]), rtol_for(dtype), "transposed")


def test_other_views_read_in_place(rng):
    """Row-strided (every other row) matrices still satisfy BLAS's lda: no copy."""
    base = rng.standard_normal((60, 40))
    a = base[::2]          # (30, 40), row stride 80 elements, unit column stride
    v = rng.standard_normal(40)
    expr = tnswift.contract_expression("ij,j->i", a.shape, v.shape, dtype="float64")
    res = expr(a, v)
    assert operand_address(expr, 0) == a.ctypes.data
    assert operand_address(expr, 1) == v.ctypes.data
    assert_close(res, *reference("ij,j->i", [a, v]), 1e-12, "row-strided")


def test_address_is_per_run(rng):
    shapes = [(8, 9), (9, 7)]
    expr = tnswift.contract_expression("ij,jk->ik", *shapes, dtype="float64")
    for _ in range(3):
        a, b = (rng.standard_normal(s) for s in shapes)
        expr(a, b)
        assert operand_address(expr, 0) == a.ctypes.data
        assert operand_address(expr, 1) == b.ctypes.data


RSS_SCRIPT = textwrap.dedent(r"""
    import resource, sys
    import numpy as np
    import tnswift

    n = 8192
    # warm up the library and BLAS (thread buffers) on small inputs first
    w = np.ones((512, 512), np.float32)
    tnswift.einsum("ij,j->i", w, np.ones(512, np.float32))
    tnswift.einsum("ij,jk->ik", w, w)
    expr = tnswift.contract_expression("ij,j->i", (n, n), (n,), dtype="float32")

    x = np.empty((n, n), dtype=np.float32)
    x.fill(1.0)                       # touch every page
    x[::97, ::89] = 2.0
    v = np.full(n, 0.5, dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    y = tnswift.einsum("ij,j->i", x, v)
    y2 = expr(x, v)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ref = x.astype(np.float64).sum(axis=1) * 0.5  # row by row would be slow; fine once
    ok = bool(np.allclose(y, ref, rtol=1e-5) and np.allclose(y2, ref, rtol=1e-5))
    same = int(expr._plan.last_operand_address(0)) == x.ctypes.data
    print(before, after, x.nbytes, ok, same)
""")


def test_large_input_not_copied():
    proc = subprocess.run([sys.executable, "-c", RSS_SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before, after, nbytes, ok, same = proc.stdout.split()
    growth = (int(after) - int(before)) * 1024  # ru_maxrss is in KiB on Linux
    assert ok == "True", "wrong result on the 256 MB input"
    assert same == "True", "the plan did not read the 256 MB input in place"
    assert growth < 0.10 * int(nbytes), \
        f"peak RSS grew by {growth / 2**20:.1f} MiB for a {int(nbytes) / 2**20:.0f} MiB input"


# ------------------------------------------------------------------ aliasing out

def test_out_aliases_first_input_matmul(rng):
    a = rng.standard_normal((6, 6))
    b = rng.standard_normal((6, 6))
    expected, mag = reference("ij,jk->ik", [a, b])
    r = tnswift.einsum("ij,jk->ik", a, b, out=a)
    assert r is a
    assert_close(a, expected, mag, 1e-12, "out aliases a")


def test_out_aliases_second_input_matmul(rng):
    a = rng.standard_normal((6, 6)).astype(np.float32)
    b = rng.standard_normal((6, 6)).astype(np.float32)
    expected, mag = reference("ij,jk->ik", [a, b])
    tnswift.einsum("ij,jk->ik", a, b, out=b)
    assert_close(b, expected, mag, 1e-4, "out aliases b")


def test_out_aliases_input_transpose(rng):
    a = rng.standard_normal((5, 5))
    expected = a.T.copy()
    tnswift.einsum("ij->ji", a, out=a)
    np.testing.assert_array_equal(a, expected)


def test_out_aliases_input_elementwise(rng):
    a = rng.standard_normal(50)
    b = rng.standard_normal(50)
    expected = a * b
    tnswift.einsum("i,i->i", a, b, out=a)
    np.testing.assert_allclose(a, expected, rtol=1e-15)


def test_out_aliases_input_partially(rng):
    """out is a column of the matrix operand."""
    m = rng.standard_normal((6, 6))
    v = rng.standard_normal(6)
    expected, mag = reference("ij,j->i", [m, v])
    m_before = m.copy()
    tnswift.einsum("ij,j->i", m, v, out=m[:, 2])
    assert_close(m[:, 2], expected, mag, 1e-12, "out is a column of the operand")
    others = [c for c in range(6) if c != 2]
    np.testing.assert_array_equal(m[:, others], m_before[:, others])


def test_out_aliases_input_expression(rng):
    expr = tnswift.contract_expression("ij,jk,kl->il", (5, 5), (5, 5), (5, 5), dtype="float64")
    a, b, c = (rng.standard_normal((5, 5)) for _ in range(3))
    expected, mag = reference("ij,jk,kl->il", [a, b, c])
    r = expr(a, b, c, out=c)
    assert r is c
    assert_close(c, expected, mag, 1e-12, "out aliases c")
