"""Every bad call raises the documented tnswift exception with a message naming the problem."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tnswift
from tnswift import ArgumentError, DTypeError, ShapeError, SubscriptError, TNError

A = np.ones((3, 4))
B = np.ones((4, 5))
A32 = np.ones((3, 4), dtype=np.float32)
SQ = np.ones((3, 3))


def _expr32():
    return tnswift.contract_expression("ij,jk->ik", (3, 4), (4, 5), dtype="float32")


def _expr64():
    return tnswift.contract_expression("ij,jk->ik", (3, 4), (4, 5), dtype="float64")


def _readonly_out():
    out = np.zeros((3, 5))
    out.flags.writeable = False
    return out


# (id, call, exception, patterns that must all be found in the message)
BAD_CALLS = [
    # ---- subscript syntax
    ("bad_character", lambda: tnswift.einsum("ij,j$->i", A, B[:, 0]), SubscriptError,
     [r"(?i)charact|invalid|\$"]),
    ("digit_label", lambda: tnswift.einsum("i1->i", A), SubscriptError,
     [r"(?i)charact|invalid|1"]),
    ("two_arrows", lambda: tnswift.einsum("ij->i->j", A), SubscriptError, [r"(?i)->|arrow"]),
    ("unmatched_dots_two", lambda: tnswift.einsum("..ij->ij", A), SubscriptError,
     [r"(?i)ellipsis|\.|dot|period"]),
    ("unmatched_dots_one", lambda: tnswift.einsum("i.j->ij", A), SubscriptError,
     [r"(?i)ellipsis|\.|dot|period"]),
    ("output_label_not_in_inputs", lambda: tnswift.einsum("ij->k", A), SubscriptError,
     [r"(?i)output|input|appear", r"\bk\b"]),
    ("repeated_output_label", lambda: tnswift.einsum("ij->ii", SQ), SubscriptError,
     [r"(?i)repeat|twice|multiple|more than once|duplicate", r"\bi\b"]),
    ("interleaved_bad_label", lambda: tnswift.einsum(A, [0, 99], [0]), SubscriptError,
     [r"(?i)label|sublist|subscript|99"]),
    # ---- operand counts, ranks, sizes
    ("too_few_operands", lambda: tnswift.einsum("ij,jk->ik", A), ShapeError,
     [r"(?i)operand"]),
    ("too_many_operands", lambda: tnswift.einsum("ij->i", A, A), ShapeError, [r"(?i)operand"]),
    ("no_operands", lambda: tnswift.einsum("ij->i"), ShapeError, [r"(?i)operand"]),
    ("dimension_mismatch", lambda: tnswift.einsum("ij,jk->ik", np.ones((3, 7)), np.ones((11, 2))),
     ShapeError, [r"\bj\b", r"\b7\b", r"\b11\b"]),
    ("diagonal_size_mismatch", lambda: tnswift.einsum("ii->", np.ones((3, 13))), ShapeError,
     [r"\bi\b", r"\b3\b", r"\b13\b"]),
    ("ndim_mismatch", lambda: tnswift.einsum("ij,jk->ik", np.ones((3, 4, 2)), B), ShapeError,
     [r"(?i)dim|rank|axes"]),
    ("ndim_mismatch_scalar", lambda: tnswift.einsum(",->", np.ones(3), np.ones(())), ShapeError,
     [r"(?i)dim|rank|axes"]),
    ("ellipsis_broadcast_mismatch",
     lambda: tnswift.einsum("...i,...i->...", np.ones((2, 3)), np.ones((4, 3))), ShapeError,
     # the user wrote '...', so the message must say so (not name an internal label)
     [r"\b2\b", r"\b4\b", r"(?i)\.\.\.|ellipsis|broadcast"]),
    # ---- dtypes
    ("int_operand", lambda: tnswift.einsum("ij->i", np.ones((3, 4), dtype=np.int64)), DTypeError,
     [r"(?i)int"]),
    ("complex_operand", lambda: tnswift.einsum("ij->i", np.ones((3, 4), dtype=complex)),
     DTypeError, [r"(?i)complex"]),
    ("bool_operand", lambda: tnswift.einsum("ij->i", np.ones((3, 4), dtype=bool)), DTypeError,
     [r"(?i)bool"]),
    ("object_operand", lambda: tnswift.einsum("ij->i", np.ones((3, 4), dtype=object)),
     DTypeError, [r"(?i)object|dtype"]),
    ("float16_operand", lambda: tnswift.einsum("ij->i", np.ones((3, 4), dtype=np.float16)),
     DTypeError, [r"(?i)float16|half|dtype"]),
    ("str_operand", lambda: tnswift.einsum("i->", "abc"), DTypeError,
     [r"(?i)dtype|str|unicode|<U"]),
    ("none_operand", lambda: tnswift.einsum("ij,jk->ik", A, None), DTypeError,
     [r"(?i)none|object|dtype"]),
    # ---- out=
    ("out_wrong_shape", lambda: tnswift.einsum("ij,jk->ik", A, B, out=np.zeros((5, 3))),
     ShapeError, [r"(?i)out", r"\b5\b"]),
    ("out_wrong_dtype", lambda: tnswift.einsum("ij,jk->ik", A, B, out=np.zeros((3, 5), np.float32)),
     DTypeError, [r"(?i)out|dtype|float"]),
    ("out_int_dtype", lambda: tnswift.einsum("ij,jk->ik", A, B, out=np.zeros((3, 5), np.int64)),
     DTypeError, [r"(?i)out|dtype|int"]),
    ("out_read_only", lambda: tnswift.einsum("ij,jk->ik", A, B, out=_readonly_out()),
     ArgumentError, [r"(?i)read|writ"]),
    ("out_not_array", lambda: tnswift.einsum("ij,jk->ik", A, B, out=[[0.0] * 5] * 3),
     ArgumentError, [r"(?i)out|array"]),
    # ---- contract_expression / backward
    ("expr_wrong_shape", lambda: _expr32()(np.ones((3, 4), np.float32), np.ones((4, 6), np.float32)),
     ShapeError, [r"(?i)shape|\b6\b"]),
    ("expr_wrong_dtype", lambda: _expr32()(A, B), DTypeError, [r"(?i)float|dtype"]),
    ("expr_wrong_count", lambda: _expr32()(A32), ShapeError, [r"(?i)operand|array|argument"]),
    ("expr_out_wrong_shape", lambda: _expr64()(A, B, out=np.zeros((3, 4))), ShapeError,
     [r"(?i)out|shape"]),
    ("expr_unknown_dtype", lambda: tnswift.contract_expression("ij->i", (3, 4), dtype="int32"),
     DTypeError, [r"(?i)int32|dtype"]),
    ("backward_wrong_dy", lambda: _expr64().backward(np.ones((3, 4)), A, B), ShapeError,
     [r"(?i)dy|shape|gradient|output"]),
    ("backward_wrong_count", lambda: _expr64().backward(np.ones((3, 5)), A), ShapeError,
     [r"(?i)operand|array|argument"]),
    ("backward_bad_wrt", lambda: _expr64().backward(np.ones((3, 5)), A, B, wrt=[5]),
     ArgumentError, [r"(?i)wrt|range|index|operand"]),
    # ---- sizes and options
    ("shape_product_overflow",
     lambda: tnswift.contract_path("ij,jk->ik", (2**40, 2**40), (2**40, 2**40), shapes=True),
     TNError, [r"(?i)overflow|too large|too big|exceed"]),
    ("negative_dimension",
     lambda: tnswift.contract_path("ij,jk->ik", (3, -4), (-4, 5), shapes=True), ShapeError,
     [r"(?i)negative|-4"]),
    ("unknown_optimize", lambda: tnswift.einsum("ij,jk->ik", A, B, optimize="fastest-ever"),
     ArgumentError, [r"fastest-ever", r"(?i)greedy|optimal"]),
    ("unknown_optimize_path",
     lambda: tnswift.contract_path("ij,jk->ik", A, B, optimize="dynamic-prog-x"), ArgumentError,
     [r"dynamic-prog-x"]),
    ("negative_memory_limit", lambda: tnswift.einsum("ij,jk->ik", A, B, memory_limit=-5),
     ArgumentError, [r"(?i)memory"]),
    ("negative_memory_limit_expr",
     lambda: tnswift.contract_expression("ij,jk->ik", (3, 4), (4, 5), memory_limit=-1),
     ArgumentError, [r"(?i)memory"]),
    # ---- ncon networks
    ("ncon_label_once", lambda: tnswift.ncon([A, B], [[-1, 1], [2, -2]]), SubscriptError,
     [r"(?i)once|twice|appear|exactly"]),
    ("ncon_label_three_times", lambda: tnswift.ncon([A, B, B], [[-1, 1], [1, -2], [1, -3]]),
     SubscriptError, [r"(?i)three|twice|times|appear|exactly"]),
    ("ncon_float_label", lambda: tnswift.ncon([A, B], [[-1, 1.5], [1.5, -2]]), SubscriptError,
     [r"(?i)int|label"]),
    ("ncon_str_label", lambda: tnswift.ncon([A, B], [[-1, "x"], ["x", -2]]), SubscriptError,
     [r"(?i)int|label"]),
    ("ncon_zero_label", lambda: tnswift.ncon([A, B], [[-1, 0], [0, -2]]), SubscriptError,
     [r"(?i)zero|\b0\b"]),
    ("ncon_dims_mismatch", lambda: tnswift.ncon([np.ones((3, 7)), np.ones((11, 2))],
                                                [[-1, 1], [1, -2]]), ShapeError,
     # names the user's ncon label 1 (not an internal letter) and both sizes
     [r"\b7\b", r"\b11\b", r"(?i)label '?1\b"]),
    ("ncon_con_order_unknown_label",
     lambda: tnswift.ncon([A, B], [[-1, 1], [1, -2]], con_order=[5]), TNError,
     [r"(?i)con_order"]),
    ("ncon_con_order_incomplete",
     lambda: tnswift.ncon([SQ, SQ, SQ], [[1, 2], [2, 3], [3, 1]], con_order=[1, 2]), TNError,
     [r"(?i)con_order"]),
    ("ncon_wrong_rank", lambda: tnswift.ncon([A, B], [[-1, 1, 2], [1, -2]]), ShapeError,
     [r"(?i)dim|rank|label|axes"]),
    ("ncon_network_length", lambda: tnswift.ncon([A, B], [[-1, 1]]), TNError,
     [r"(?i)tensor|network|operand"]),
    ("ncon_output_gap", lambda: tnswift.ncon([A, B], [[-1, 1], [1, -3]]), SubscriptError,
     [r"(?i)-2|consecutive|missing|output"]),
]


@pytest.mark.parametrize("name,call,exc,patterns", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_call(name, call, exc, patterns):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert msg, "the exception carries no message"
    for pat in patterns:
        assert re.search(pat, msg), f"message {msg!r} does not match {pat!r}"


def test_enough_distinct_bad_calls():
    assert len({b[0] for b in BAD_CALLS}) >= 30


def test_exception_hierarchy():
    assert issubclass(ShapeError, TNError) and issubclass(ShapeError, ValueError)
    assert issubclass(DTypeError, TNError) and issubclass(DTypeError, TypeError)
    assert issubclass(SubscriptError, TNError) and issubclass(SubscriptError, ValueError)
    assert issubclass(ArgumentError, TNError) and issubclass(ArgumentError, ValueError)
    assert issubclass(TNError, Exception)


def test_errors_leave_library_usable():
    """After a burst of failing calls, the same objects still compute correctly."""
    expr = _expr64()
    for name, call, exc, _ in BAD_CALLS:
        try:
            call()
        except Exception:
            pass
    np.testing.assert_allclose(expr(A, B), A @ B)
    np.testing.assert_allclose(tnswift.einsum("ij,jk->ik", A, B), A @ B)


NASTY = textwrap.dedent(r"""
    import numpy as np
    import tnswift

    def attempt(name, fn):
        try:
            fn()
        except Exception as exc:
            documented = isinstance(exc, (tnswift.TNError, MemoryError))
            print(name, "raised" if documented else "raised-other", type(exc).__name__, flush=True)
        else:
            print(name, "ok", flush=True)

    attempt("overflow_path", lambda: tnswift.contract_path(
        "ij,jk->ik", (2**62, 2**62), (2**62, 2**62), shapes=True))
    attempt("overflow_expr", lambda: tnswift.contract_expression(
        "ab,bc->ac", (2**40, 2**40), (2**40, 2**40), dtype="float32"))
    attempt("overflow_int64_max", lambda: tnswift.contract_path(
        "i,j,k->ijk", (2**63 - 1,), (2**63 - 1,), (3,), shapes=True))
    big = np.broadcast_to(np.ones(1, np.float32), (2**40,))
    attempt("zero_stride_outer_overflow", lambda: tnswift.einsum("i,j->ij", big, big))
    attempt("huge_garbage_subscripts", lambda: tnswift.einsum("\x00\xff" * 500000, np.ones(3)))
    attempt("many_labels", lambda: tnswift.einsum(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", np.ones((1,) * 40)))
    attempt("interleaved_huge_label", lambda: tnswift.einsum(np.ones(3), [2**62], [2**62]))
    attempt("ncon_huge_label", lambda: tnswift.ncon(
        [np.ones((2, 2)), np.ones((2, 2))], [[-1, 2**62], [2**62, -2]]))
    attempt("ncon_empty", lambda: tnswift.ncon([], []))
    attempt("memory_limit_max", lambda: tnswift.einsum(
        "ij,jk->ik", np.ones((2, 2)), np.ones((2, 2)), memory_limit=2**63 - 1))
    attempt("zero_operands_path", lambda: tnswift.contract_path("->"))
    attempt("negative_shape_expr", lambda: tnswift.contract_expression(
        "ij->i", (-(2**62), 3), dtype="float64"))
    attempt("nan_inf_values", lambda: tnswift.einsum(
        "ij,jk->ik", np.full((2, 2), np.nan), np.full((2, 2), np.inf)))
    expr = tnswift.contract_expression("ij,jk->ik", (2, 2), (2, 2), dtype="float64")
    attempt("backward_none_dy", lambda: expr.backward(None, np.ones((2, 2)), np.ones((2, 2))))
    attempt("expr_none_array", lambda: expr(None, np.ones((2, 2))))
    print("done", flush=True)
""")


def test_nasty_calls_do_not_crash(tmp_path):
    script = tmp_path / "nasty.py"
    script.write_text(NASTY)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"interpreter died ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    lines = proc.stdout.splitlines()
    assert lines and lines[-1] == "done", proc.stdout + proc.stderr
    results = dict(line.split(" ", 1) for line in lines[:-1])
    # the impossible ones must be refused, not silently "computed", and with an
    # exception of the documented family (or MemoryError for an allocation)
    wrong = {name: results[name] for name in (
        "overflow_path", "overflow_expr", "overflow_int64_max", "zero_stride_outer_overflow",
        "huge_garbage_subscripts", "interleaved_huge_label", "negative_shape_expr",
        "backward_none_dy", "expr_none_array") if not results[name].startswith("raised ")}
    assert not wrong, f"not refused with a tnswift error: {wrong}"
    # the legal ones must work
    for name in ("many_labels", "memory_limit_max", "nan_inf_values"):
        assert results[name] == "ok", f"{name}: {results[name]}"


def test_gemm_beyond_blas_32_bit_sizes_is_an_error_not_a_crash():
    """Broadcast views can describe GEMMs of more than 2^31 rows without using memory; OpenBLAS
    takes 32-bit sizes, so the engine must refuse them with a clear error."""
    a = np.broadcast_to(np.ones((1, 4), np.float32), (2**31, 4))
    b = np.ones((4, 3), np.float32)
    out = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), shape=(2**31, 3), strides=(0, 4))
    expr = tnswift.contract_expression("ij,jk->ik", a.shape, b.shape)
    with pytest.raises(tnswift.TNError, match="32-bit"):
        expr(a, b, out=out)
