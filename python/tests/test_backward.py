"""Gradients of contract_expression(...).backward.

For every generated equation (220 in float64, plus float32 and wrt cases):
  * equal to the analytic gradient einsum(dy, other operands -> operand labels),
    with repeated labels (the gradient of a diagonal lives on the diagonal) and
    size-1 broadcasting (summed) handled, to 1e-10 relative to the term magnitudes;
  * equal to central finite differences of sum(out * dy) along random directions
    (1e-6 relative);
  * the same whether backward follows a forward on the same buffers (reuse) or
    not (recompute).
"""

import numpy as np
import pytest

import tnswift
from tn_helpers import (LAYOUTS, assert_close, close_error, gen_valid, label_sizes, make_array,
                        normalize, reference)

N_CHUNKS = 10
PER_CHUNK = 22


def analytic_grads(eq, ops, dy):
    """Analytic gradients of sum(einsum(eq, *ops) * dy) and their term magnitudes."""
    ops = [np.asarray(o, dtype=np.float64) for o in ops]
    dy = np.asarray(dy, dtype=np.float64)
    shapes = [o.shape for o in ops]
    inputs, output = normalize(eq, shapes)
    sizes = label_sizes(inputs, shapes)
    grads, mags = [], []
    for k, (lab, op) in enumerate(zip(inputs, ops)):
        uniq = "".join(dict.fromkeys(lab))
        ones = np.ones([sizes[c] for c in uniq])
        others = [j for j in range(len(ops)) if j != k]
        sub = ",".join([output] + [inputs[j] for j in others] + [uniq]) + "->" + uniq
        g = np.einsum(sub, dy, *[ops[j] for j in others], ones, optimize=False)
        m = np.einsum(sub, np.abs(dy), *[np.abs(ops[j]) for j in others], ones, optimize=False)
        own = {c: op.shape[lab.index(c)] for c in uniq}
        for p, c in enumerate(uniq):
            if own[c] == 1 and sizes[c] != 1:
                g = g.sum(axis=p, keepdims=True)
                m = m.sum(axis=p, keepdims=True)
        full_g = np.zeros(op.shape)
        full_m = np.zeros(op.shape)
        idx = []
        for p, c in enumerate(lab):
            shape = [1] * len(uniq)
            shape[uniq.index(c)] = op.shape[p]
            idx.append(np.arange(op.shape[p]).reshape(shape))
        full_g[tuple(idx)] = g
        full_m[tuple(idx)] = m
        grads.append(full_g)
        mags.append(full_m)
    return grads, mags


def objective(eq, ops, dy):
    return float(np.sum(np.einsum(eq, *[np.asarray(o, np.float64) for o in ops],
                                  optimize=False) * dy))


def check_grads(desc, eq, ops, dy, grads, rtol, failures):
    exp, mags = analytic_grads(eq, ops, dy)
    if not isinstance(grads, tuple) or len(grads) != len(ops):
        failures.append(f"{desc}: backward returned {type(grads).__name__} of "
                        f"length {len(grads) if hasattr(grads, '__len__') else '?'}")
        return False
    ok = True
    for k, (g, e, m) in enumerate(zip(grads, exp, mags)):
        if g is None:
            failures.append(f"{desc}: gradient {k} is None")
            ok = False
            continue
        if np.shape(g) != np.shape(ops[k]):
            failures.append(f"{desc}: gradient {k} shape {np.shape(g)} != {np.shape(ops[k])}")
            ok = False
            continue
        if np.asarray(g).dtype != np.asarray(ops[k]).dtype:
            failures.append(f"{desc}: gradient {k} dtype {np.asarray(g).dtype}")
            ok = False
        msg = close_error(g, e, m, rtol)
        if msg:
            failures.append(f"{desc}: gradient {k} vs analytic: {msg}")
            ok = False
    return ok


def check_fd(desc, eq, ops, dy, grads, rng, failures, n_dirs=2, h=1e-3):
    ops64 = [np.array(o, dtype=np.float64) for o in ops]
    _, mags = analytic_grads(eq, ops64, dy)
    for k in range(len(ops64)):
        for _ in range(n_dirs):
            v = rng.standard_normal(ops64[k].shape)
            plus = list(ops64)
            minus = list(ops64)
            plus[k] = ops64[k] + h * v
            minus[k] = ops64[k] - h * v
            fd = (objective(eq, plus, dy) - objective(eq, minus, dy)) / (2 * h)
            an = float(np.sum(np.asarray(grads[k], np.float64) * v))
            scale = float(np.sum(mags[k] * np.abs(v)))
            if not abs(fd - an) <= 1e-6 * scale + 1e-12:
                failures.append(f"{desc}: operand {k}: finite difference {fd!r} vs "
                                f"<grad, v> {an!r} (scale {scale:.3g})")
                return


def backward_case(rng, dtype=np.float64, n_ops=None):
    n_ops = n_ops or int(rng.choice([1, 2, 2, 3, 3, 3, 4, 4]))
    case = gen_valid(rng, n_ops=n_ops, max_work=4000)
    ops = []
    for s in case.shapes:
        layout = LAYOUTS[int(rng.integers(0, len(LAYOUTS)))] if rng.random() < 0.3 else "c"
        ops.append(make_array(rng, s, dtype, layout))
    ref, _ = reference(case.eq, ops)
    dy = rng.standard_normal(ref.shape).astype(dtype)
    return case, ops, dy, ref


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_backward_generated(chunk):
    rng = np.random.default_rng(5150 + chunk)
    failures = []
    for _ in range(PER_CHUNK):
        case, ops, dy, ref = backward_case(rng)
        desc = f"{case.eq!r} shapes={case.shapes}"
        try:
            # recompute path: backward on a fresh expression, no forward before
            expr_a = tnswift.contract_expression(case.eq, *case.shapes, dtype="float64")
            g_recompute = expr_a.backward(dy, *ops)
            # reuse path: forward, then backward on the same buffers
            expr_b = tnswift.contract_expression(case.eq, *case.shapes, dtype="float64")
            y = expr_b(*ops)
            g_reuse = expr_b.backward(dy, *ops)
        except Exception as exc:
            failures.append(f"{desc}: raised {type(exc).__name__}: {exc}")
            continue
        msg = close_error(y, ref, reference(case.eq, ops)[1], 1e-10)
        if msg:
            failures.append(f"{desc}: forward: {msg}")
        if check_grads(desc + " [recompute]", case.eq, ops, dy, g_recompute, 1e-10, failures):
            check_fd(desc, case.eq, ops, dy, g_recompute, rng, failures)
        check_grads(desc + " [reuse]", case.eq, ops, dy, g_reuse, 1e-10, failures)
        if len(g_reuse) == len(g_recompute):
            _, mags = analytic_grads(case.eq, ops, dy)
            for k, (a, b) in enumerate(zip(g_recompute, g_reuse)):
                if a is not None and b is not None:
                    m = close_error(b, a, mags[k], 1e-12)
                    if m:
                        failures.append(f"{desc}: reuse vs recompute gradient {k}: {m}")
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)


@pytest.mark.parametrize("chunk", range(2))
def test_backward_float32(chunk):
    rng = np.random.default_rng(777 + chunk)
    failures = []
    for _ in range(20):
        case, ops, dy, _ = backward_case(rng, dtype=np.float32)
        desc = f"float32 {case.eq!r} shapes={case.shapes}"
        try:
            expr = tnswift.contract_expression(case.eq, *case.shapes, dtype="float32")
            expr(*ops)
            grads = expr.backward(dy, *ops)
        except Exception as exc:
            failures.append(f"{desc}: raised {type(exc).__name__}: {exc}")
            continue
        check_grads(desc, case.eq, ops, dy, grads, 1e-4, failures)
    assert not failures, "\n".join(failures)


def test_backward_wrt_subsets():
    rng = np.random.default_rng(4242)
    failures = []
    for _ in range(40):
        case, ops, dy, _ = backward_case(rng, n_ops=int(rng.integers(2, 5)))
        n = len(ops)
        wrt = sorted(int(k) for k in rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
        desc = f"{case.eq!r} shapes={case.shapes} wrt={wrt}"
        expr = tnswift.contract_expression(case.eq, *case.shapes, dtype="float64")
        try:
            full = expr.backward(dy, *ops)
            part = expr.backward(dy, *ops, wrt=wrt)
        except Exception as exc:
            failures.append(f"{desc}: raised {type(exc).__name__}: {exc}")
            continue
        if len(part) != n:
            failures.append(f"{desc}: {len(part)} entries for {n} operands")
            continue
        _, mags = analytic_grads(case.eq, ops, dy)
        for k in range(n):
            if k in wrt:
                if part[k] is None:
                    failures.append(f"{desc}: gradient {k} requested but None")
                    continue
                m = close_error(part[k], full[k], mags[k], 1e-12)
                if m:
                    failures.append(f"{desc}: wrt gradient {k} differs from full: {m}")
            elif part[k] is not None:
                failures.append(f"{desc}: gradient {k} not requested but returned")
    assert not failures, "\n".join(failures)


def test_backward_after_forward_on_other_buffers(rng):
    """A forward on A then a backward on B must give B's gradient (no stale reuse)."""
    eq = "ij,jk,kl->il"
    shapes = [(4, 5), (5, 6), (6, 3)]
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64")
    a_ops = [rng.standard_normal(s) for s in shapes]
    b_ops = [rng.standard_normal(s) for s in shapes]
    dy = rng.standard_normal((4, 3))
    expr(*a_ops)
    grads = expr.backward(dy, *b_ops)
    failures = []
    check_grads(eq, eq, b_ops, dy, grads, 1e-10, failures)
    assert not failures, "\n".join(failures)
    # and again on A after a forward on B
    expr(*b_ops)
    expr(*a_ops)
    grads = expr.backward(dy, *a_ops)
    check_grads(eq, eq, a_ops, dy, grads, 1e-10, failures)
    assert not failures, "\n".join(failures)


def test_backward_w1_tt_layer(rng):
    eq = "aei,bfij,cgjk,dhk,nabcd->nefgh"
    shapes = [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8), (4, 8, 8, 8, 8)]
    ops = [rng.standard_normal(s) for s in shapes]
    dy = rng.standard_normal((4, 2, 2, 2, 2))
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64")
    assert tuple(expr.output_shape) == (4, 2, 2, 2, 2)
    expr(*ops)
    grads = expr.backward(dy, *ops)
    for k in range(5):
        others = [j for j in range(5) if j != k]
        terms = eq.split("->")[0].split(",")
        sub = ",".join(["nefgh"] + [terms[j] for j in others]) + "->" + terms[k]
        exp = np.einsum(sub, dy, *[ops[j] for j in others], optimize=True)
        mag = np.einsum(sub, np.abs(dy), *[np.abs(ops[j]) for j in others], optimize=True)
        msg = close_error(grads[k], exp, mag, 1e-10)
        assert msg is None, f"W1 gradient {k}: {msg}"


def test_backward_matmul_closed_form(rng):
    a = rng.standard_normal((6, 4))
    b = rng.standard_normal((4, 5))
    dy = rng.standard_normal((6, 5))
    expr = tnswift.contract_expression("ij,jk->ik", a.shape, b.shape, dtype="float64")
    ga, gb = expr.backward(dy, a, b)
    assert_close(ga, *reference("ik,jk->ij", [dy, b]), 1e-12, "dA = dy B^T")
    assert_close(gb, *reference("ij,ik->jk", [a, dy]), 1e-12, "dB = A^T dy")


def test_backward_trace_gradient_is_identity(rng):
    m = rng.standard_normal((5, 5))
    expr = tnswift.contract_expression("ii->", (5, 5), dtype="float64")
    (g,) = expr.backward(np.array(2.5), m)
    np.testing.assert_array_equal(g, 2.5 * np.eye(5))


def test_backward_concurrent_threads():
    """Forward + backward on one expression from several threads at once: every
    thread gets its own operands' gradients (no cross-talk through cached intermediates)."""
    import threading

    eq = "ab,bc,cd,de->ae"
    shapes = [(6, 7), (7, 8), (8, 7), (7, 6)]
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64")
    rng = np.random.default_rng(11)
    data = [([rng.standard_normal(s) for s in shapes], rng.standard_normal((6, 6)))
            for _ in range(6)]
    expected = [analytic_grads(eq, ops, dy) for ops, dy in data]
    forward = [reference(eq, ops) for ops, _ in data]
    problems = []

    def work(k):
        ops, dy = data[k]
        try:
            for _ in range(100):
                y = expr(*ops)
                grads = expr.backward(dy, *ops)
                m = close_error(y, *forward[k], 1e-10)
                if m:
                    problems.append(f"thread {k} forward: {m}")
                    return
                for j in range(4):
                    m = close_error(grads[j], expected[k][0][j], expected[k][1][j], 1e-10)
                    if m:
                        problems.append(f"thread {k} gradient {j}: {m}")
                        return
        except Exception as exc:  # pragma: no cover - reported below
            problems.append(f"thread {k} raised {exc!r}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, "\n".join(problems)


def test_operand_modified_between_forward_and_backward_is_noticed():
    """An operand changed in place after the forward call must not give stale gradients:
    the engine fingerprints the operands its kept intermediates came from and recomputes."""
    rng = np.random.default_rng(11)
    eq = "ab,bc,cd->ad"
    shapes = [(6, 7), (7, 8), (8, 5)]
    ops = [rng.standard_normal(s) for s in shapes]
    dy = rng.standard_normal((6, 5))
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64")
    expr(*ops)
    ops[0] *= 2.0          # in place, same buffer, after the forward call
    ops[2][3, 1] += 1.0    # and a single element of another operand
    grads = expr.backward(dy, *ops)
    expected = [np.einsum("ad,bc,cd->ab", dy, ops[1], ops[2]),
                np.einsum("ad,ab,cd->bc", dy, ops[0], ops[2]),
                np.einsum("ad,ab,bc->cd", dy, ops[0], ops[1])]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_recompute_after_forward_into_strided_out():
    """Backward recomputes into a throwaway output laid out like the last forward's `out`
    (here a reversed, transposed view) and reads the operand copies that run made."""
    rng = np.random.default_rng(12)
    eq = "nij,aik,bjk->nab"
    shapes = [(6, 5, 4), (3, 5, 2), (7, 4, 2)]
    ops = [rng.standard_normal(s) for s in shapes]
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64")
    out_base = np.zeros((7, 3, 6))
    out = out_base.transpose(2, 1, 0)[::-1]          # shape (6, 3, 7), negative stride
    expr(*ops, out=out)
    np.testing.assert_allclose(out, np.einsum(eq, *ops), rtol=1e-12, atol=1e-12)
    ops[1] += 0.5                                    # in place: the kept intermediates are stale
    dy = rng.standard_normal((6, 3, 7))
    grads = expr.backward(dy, *ops)
    expected = [np.einsum("nab,aik,bjk->nij", dy, ops[1], ops[2]),
                np.einsum("nab,nij,bjk->aik", dy, ops[0], ops[2]),
                np.einsum("nab,nij,aik->bjk", dy, ops[0], ops[1])]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
