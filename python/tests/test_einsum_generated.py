"""Generated einsum equations compared against numpy.einsum (float64 reference).

1,200 equations in 50 seeded chunks: 1-6 operands, repeated labels, ellipsis
with broadcasting, size-1 broadcasting of named labels, implicit and explicit
outputs, strided / transposed / negative-stride / zero-stride views, size-0 and
size-1 dimensions, float32, float64 and mixed operands, the interleaved form,
every optimize mode, and out= (contiguous and strided).
"""

import numpy as np
import pytest

import tnswift
from tn_helpers import (LAYOUTS, assert_close, close_error, gen_valid, make_array,
                        reference, result_dtype, rtol_for, to_interleaved)

N_CHUNKS = 50
PER_CHUNK = 24
OPTIMIZE = ("auto", "optimal", "greedy", True, False)


def make_operands(rng, shapes):
    mode = rng.choice(["f32", "f64", "mixed"], p=[0.4, 0.4, 0.2])
    ops = []
    for k, s in enumerate(shapes):
        if mode == "f32":
            dt = np.float32
        elif mode == "f64":
            dt = np.float64
        else:
            dt = np.float32 if (k % 2 == 0) else np.float64
        layout = LAYOUTS[int(rng.integers(0, len(LAYOUTS)))] if rng.random() < 0.5 else "c"
        ops.append(make_array(rng, s, dt, layout))
    if mode == "mixed" and len(ops) == 1:
        pass  # a single operand cannot be mixed; it stays float32
    return ops


def make_out(rng, shape, dtype):
    shape = tuple(shape)
    kind = rng.choice(["c", "c", "strided", "transposed"])
    if kind == "strided" and len(shape) >= 1:
        base = np.full((2 * shape[0] + 1,) + shape[1:], np.nan, dtype=dtype)
        out = base[1::2]
    elif kind == "transposed" and len(shape) >= 2:
        out = np.full(shape[::-1], np.nan, dtype=dtype).T
    else:
        out = np.full(shape, np.nan, dtype=dtype)
    assert out.shape == shape
    return out


def run_case(rng, case):
    """Returns None on success or a description of the failure."""
    ops = make_operands(rng, case.shapes)
    ref, mag = reference(case.eq, ops)
    rdt = result_dtype(ops)
    opt = OPTIMIZE[int(rng.integers(0, len(OPTIMIZE)))]
    use_out = rng.random() < 0.15
    interleaved = rng.random() < 0.1
    desc = (f"einsum({case.eq!r}, shapes={case.shapes}, dtypes={[o.dtype.name for o in ops]}, "
            f"strides={[o.strides for o in ops]}, optimize={opt!r}, out={use_out}, "
            f"interleaved={interleaved})")
    args = to_interleaved(case.eq, ops) if interleaved else [case.eq] + ops
    out = make_out(rng, ref.shape, rdt) if use_out else None
    try:
        if use_out:
            res = tnswift.einsum(*args, out=out, optimize=opt)
        else:
            res = tnswift.einsum(*args, optimize=opt)
    except Exception as exc:  # report, do not stop the chunk
        return f"{desc}: raised {type(exc).__name__}: {exc}"
    if use_out:
        if res is not out:
            return f"{desc}: returned object is not `out`"
        res_arr = out
    else:
        if ref.ndim == 0:
            if not isinstance(res, np.generic):
                return f"{desc}: 0-d result should be a numpy scalar, got {type(res).__name__}"
        elif not isinstance(res, np.ndarray):
            return f"{desc}: result is {type(res).__name__}, not ndarray"
        res_arr = np.asarray(res)
    if res_arr.dtype != rdt:
        return f"{desc}: dtype {res_arr.dtype} != {np.dtype(rdt)}"
    msg = close_error(res_arr, ref, mag, rtol_for(rdt))
    if msg:
        return f"{desc}: {msg}"
    # the inputs must be left untouched
    return None


def _chunk_cases(chunk):
    rng = np.random.default_rng(20240 + chunk)
    return rng, [gen_valid(rng) for _ in range(PER_CHUNK)]


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_generated_chunk(chunk):
    rng, cases = _chunk_cases(chunk)
    failures = []
    for case in cases:
        msg = run_case(rng, case)
        if msg:
            failures.append(msg)
    assert not failures, f"{len(failures)}/{len(cases)} cases failed:\n" + "\n".join(failures)


def test_generated_inputs_not_modified():
    rng = np.random.default_rng(7)
    for _ in range(100):
        case = gen_valid(rng)
        ops = make_operands(rng, case.shapes)
        before = [o.copy() for o in ops]
        tnswift.einsum(case.eq, *ops)
        for o, b in zip(ops, before):
            np.testing.assert_array_equal(o, b, err_msg=f"{case} modified an input")


@pytest.mark.parametrize("seed", range(4))
def test_generated_memory_limit(seed):
    """memory_limit never changes results (60 equations)."""
    rng = np.random.default_rng(900 + seed)
    failures = []
    for _ in range(15):
        case = gen_valid(rng, n_ops=int(rng.integers(3, 6)), zero=False)
        ops = [make_array(rng, s, np.float64) for s in case.shapes]
        ref, mag = reference(case.eq, ops)
        limit = int(rng.choice([1, 2, 8, 32, 10**9]))
        try:
            res = tnswift.einsum(case.eq, *ops, memory_limit=limit)
        except Exception as exc:
            failures.append(f"{case} memory_limit={limit}: raised {type(exc).__name__}: {exc}")
            continue
        msg = close_error(res, ref, mag, 1e-10)
        if msg:
            failures.append(f"{case} memory_limit={limit}: {msg}")
    assert not failures, "\n".join(failures)


def test_generated_count():
    """The suite really covers >= 1,000 distinct generated equations."""
    eqs = set()
    for chunk in range(N_CHUNKS):
        _, cases = _chunk_cases(chunk)
        eqs.update((c.eq, tuple(c.shapes)) for c in cases)
    assert len(eqs) >= 1000


def test_same_equation_all_layouts():
    """One 3-operand equation through every layout and dtype combination."""
    rng = np.random.default_rng(3)
    eq = "iaj,jkb,kci->abc"
    shapes = [(3, 2, 4), (4, 5, 3), (5, 2, 3)]
    for layout in set(LAYOUTS):
        for dt in (np.float32, np.float64):
            ops = [make_array(rng, s, dt, layout) for s in shapes]
            ref, mag = reference(eq, ops)
            assert_close(tnswift.einsum(eq, *ops), ref, mag, rtol_for(dt), f"{layout} {dt}")
