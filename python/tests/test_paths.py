"""Contraction paths: optimality, cost accounting, memory limits, greedy chains."""

import numpy as np
import pytest

import tnswift
from tn_helpers import (brute_force, close_error, label_sizes, naive_cost, normalize,
                        path_cost, reference)

W1_EQ = "aei,bfij,cgjk,dhk,nabcd->nefgh"
W1_SHAPES = [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8), (256, 8, 8, 8, 8)]


def random_network(rng, n_ops, lo=2, hi=9):
    """A random einsum over n_ops operands with named labels only."""
    n_labels = int(rng.integers(n_ops, 2 * n_ops + 2))
    pool = list("abcdefghijklmnopqrstuvwxyz"[:n_labels])
    sizes = {c: int(rng.integers(lo, hi + 1)) for c in pool}
    terms = []
    for _ in range(n_ops):
        nd = int(rng.integers(1, 4))
        terms.append("".join(dict.fromkeys(str(c) for c in rng.choice(pool, size=nd))))
    used = list(dict.fromkeys("".join(terms)))
    out = "".join(c for c in used if rng.random() < 0.3)
    eq = ",".join(terms) + "->" + out
    shapes = [tuple(sizes[c] for c in t) for t in terms]
    return eq, shapes


def path_steps(path):
    return [tuple(int(i) for i in step) for step in path]


def brute(eq, shapes, memory_limit=None):
    inputs, output = normalize(eq, shapes)
    sizes = label_sizes(inputs, shapes)
    return brute_force(inputs, output, sizes, memory_limit)


def library_path_cost(eq, shapes, path):
    inputs, output = normalize(eq, shapes)
    return path_cost(inputs, output, label_sizes(inputs, shapes), path_steps(path))


CASES = [random_network(np.random.default_rng(31 + k), int(np.random.default_rng(31 + k).integers(2, 6)))
         for k in range(50)]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_optimal_equals_brute_force(eq, shapes):
    best, best_path, _ = brute(eq, shapes)
    path, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize="optimal")
    steps = path_steps(path)
    assert len(steps) == len(shapes) - 1, f"path {steps} for {len(shapes)} operands"
    cost, largest = library_path_cost(eq, shapes, steps)
    assert info.opt_cost == pytest.approx(cost, rel=1e-12), \
        f"reported opt_cost {info.opt_cost} but the returned path {steps} costs {cost}"
    assert info.opt_cost == pytest.approx(best, rel=1e-12), \
        f"opt_cost {info.opt_cost} (path {steps}) but brute force finds {best} (path {best_path})"
    assert info.largest_intermediate == largest
    inputs, output = normalize(eq, shapes)
    assert info.naive_cost == pytest.approx(naive_cost(inputs, output, label_sizes(inputs, shapes)),
                                            rel=1e-12)


@pytest.mark.parametrize("eq,shapes", CASES[:20], ids=[c[0] for c in CASES[:20]])
def test_other_optimizers_valid(eq, shapes):
    best, _, _ = brute(eq, shapes)
    for opt in ("greedy", "auto", True, False):
        path, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize=opt)
        steps = path_steps(path)
        cost, _ = library_path_cost(eq, shapes, steps)
        assert info.opt_cost == pytest.approx(cost, rel=1e-12), f"optimize={opt!r}"
        assert info.opt_cost >= best * (1 - 1e-12), f"optimize={opt!r} beats the optimum?"


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_matches_opt_einsum(eq, shapes):
    """Never worse than opt_einsum's `optimal`, and equal wherever that one is exact.

    opt_einsum's `optimal` search is not always exact under its own reported cost
    (it caches pair costs by the pair's label sets, ignoring which operands remain,
    and its search doubles a step only when a shared label is summed), so on some
    networks its opt_cost is above the brute-force optimum.
    """
    oe = pytest.importorskip("opt_einsum")
    best, _, _ = brute(eq, shapes)
    oe_path, oe_info = oe.contract_path(eq, *shapes, shapes=True, optimize="optimal")
    assert library_path_cost(eq, shapes, oe_path)[0] == float(oe_info.opt_cost)
    _, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize="optimal")
    assert info.opt_cost <= float(oe_info.opt_cost) * (1 + 1e-12)
    if float(oe_info.opt_cost) == best:
        assert info.opt_cost == pytest.approx(float(oe_info.opt_cost), rel=1e-12)
    assert info.naive_cost == pytest.approx(float(oe_info.naive_cost), rel=1e-12)


def test_contract_path_with_arrays(rng):
    eq = "ab,bc,cd->ad"
    ops = [rng.standard_normal(s) for s in [(10, 3), (3, 20), (20, 4)]]
    path, info = tnswift.contract_path(eq, *ops, optimize="optimal")
    path2, info2 = tnswift.contract_path(eq, *[o.shape for o in ops], shapes=True,
                                         optimize="optimal")
    assert path_steps(path) == path_steps(path2)
    assert info.opt_cost == info2.opt_cost
    best, _, _ = brute(eq, [o.shape for o in ops])
    assert info.opt_cost == best
    report = str(info)
    assert eq.split("->")[0] in report.replace(" ", "") or "ab,bc,cd" in report
    assert any(w in report.lower() for w in ("flop", "cost")), report


def test_expression_path_attributes():
    eq, shapes = "ab,bc,cd->ad", [(10, 3), (3, 20), (20, 4)]
    expr = tnswift.contract_expression(eq, *shapes, dtype="float64", optimize="optimal")
    path, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize="optimal")
    assert path_steps(expr.path) == path_steps(path)
    assert expr.opt_cost == info.opt_cost
    assert tuple(expr.output_shape) == (10, 4)


def test_w1_optimal_cost():
    path, info = tnswift.contract_path(W1_EQ, *W1_SHAPES, shapes=True, optimize="optimal")
    assert info.opt_cost == pytest.approx(3.5e7, rel=0.10)
    # opt_einsum's figures for this equation: opt 34,668,544, naive 42,949,672,960
    assert info.opt_cost == pytest.approx(34668544, rel=1e-12)
    assert info.naive_cost == pytest.approx(42949672960, rel=1e-12)
    cost, largest = library_path_cost(W1_EQ, W1_SHAPES, path)
    assert cost == pytest.approx(info.opt_cost, rel=1e-12)
    assert info.largest_intermediate == largest
    report = str(info)
    assert W1_EQ in report.replace(" ", ""), report


def test_w1_auto_is_optimal():
    _, auto = tnswift.contract_path(W1_EQ, *W1_SHAPES, shapes=True, optimize="auto")
    assert auto.opt_cost == pytest.approx(3.5e7, rel=0.10)


# ---------------------------------------------------------------- memory limit

ML_CASES = [random_network(np.random.default_rng(500 + k), int(np.random.default_rng(500 + k).integers(3, 6)))
            for k in range(25)]


@pytest.mark.parametrize("eq,shapes", ML_CASES, ids=[c[0] for c in ML_CASES])
def test_memory_limit_enforced(eq, shapes, rng):
    best, _, table = brute(eq, shapes)
    largest_values = sorted({lg for _, lg in table})
    # a limit some path satisfies (every path's last result is the output, so the
    # limit is never below the output size)
    limit = largest_values[int(rng.integers(0, len(largest_values)))]
    lim_best, lim_path, _ = brute(eq, shapes, memory_limit=limit)
    assert lim_best is not None
    path, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize="optimal",
                                       memory_limit=limit)
    assert info.largest_intermediate <= limit, \
        f"memory_limit={limit} but largest intermediate {info.largest_intermediate}"
    cost, largest = library_path_cost(eq, shapes, path)
    assert largest <= limit
    assert info.opt_cost == pytest.approx(lim_best, rel=1e-12), \
        f"limit {limit}: cost {info.opt_cost}, best path within the limit costs {lim_best} ({lim_path})"
    ops = [rng.standard_normal(s) for s in shapes]
    ref, mag = reference(eq, ops)
    for opt in ("optimal", "greedy", "auto"):
        res = tnswift.einsum(eq, *ops, optimize=opt, memory_limit=limit)
        msg = close_error(res, ref, mag, 1e-10)
        assert msg is None, f"optimize={opt} memory_limit={limit}: {msg}"
        expr = tnswift.contract_expression(eq, *shapes, dtype="float64", optimize=opt,
                                           memory_limit=limit)
        msg = close_error(expr(*ops), ref, mag, 1e-10)
        assert msg is None, f"contract_expression optimize={opt} memory_limit={limit}: {msg}"


@pytest.mark.parametrize("eq,shapes", ML_CASES[:10], ids=[c[0] for c in ML_CASES[:10]])
def test_memory_limit_unsatisfiable_still_correct(eq, shapes, rng):
    """A limit no pairwise path meets: the plan falls back to a direct loop."""
    _, _, table = brute(eq, shapes)
    smallest = min(lg for _, lg in table)
    if smallest <= 1:
        pytest.skip("every path fits in one element")
    limit = smallest - 1
    ops = [rng.standard_normal(s) for s in shapes]
    ref, mag = reference(eq, ops)
    for opt in ("optimal", "greedy"):
        res = tnswift.einsum(eq, *ops, optimize=opt, memory_limit=limit)
        msg = close_error(res, ref, mag, 1e-10)
        assert msg is None, f"optimize={opt} memory_limit={limit}: {msg}"


# ----------------------------------------------------------------- greedy chains

@pytest.mark.parametrize("n", range(8, 13))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_greedy_long_chains(n, dtype, rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    dims = [int(d) for d in rng.integers(2, 7, size=n + 1)]
    terms = [letters[k] + letters[k + 1] for k in range(n)]
    hyper = rng.random() < 0.5
    if hyper:  # a batch label shared by every operand
        terms = [t + "Z" for t in terms]
    out = letters[0] + letters[n] + ("Z" if hyper else "")
    eq = ",".join(terms) + "->" + out
    shapes = [(dims[k], dims[k + 1]) + ((3,) if hyper else ()) for k in range(n)]
    ops = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ref, mag = reference(eq, ops, optimize="greedy")
    for opt in ("greedy", "auto"):
        res = tnswift.einsum(eq, *ops, optimize=opt)
        msg = close_error(res, ref, mag, 1e-4 if dtype == np.float32 else 1e-10)
        assert msg is None, f"{eq} optimize={opt}: {msg}"
    path, info = tnswift.contract_path(eq, *shapes, shapes=True, optimize="greedy")
    steps = path_steps(path)
    assert len(steps) == n - 1
    cost, _ = library_path_cost(eq, shapes, steps)
    assert info.opt_cost == pytest.approx(cost, rel=1e-12)
    assert info.opt_cost <= info.naive_cost


def test_greedy_random_networks_correct():
    rng = np.random.default_rng(99)
    for _ in range(10):
        n = int(rng.integers(8, 13))
        eq, shapes = random_network(rng, n, lo=2, hi=3)
        ops = [rng.standard_normal(s) for s in shapes]
        ref, mag = reference(eq, ops, optimize="greedy")
        res = tnswift.einsum(eq, *ops, optimize="greedy")
        msg = close_error(res, ref, mag, 1e-10)
        assert msg is None, f"{eq}: {msg}"


def test_path_without_pairwise_steps_has_opt_einsums_form():
    """One operand, or the memory-limit fallback, is one step over every operand."""
    path, _ = tnswift.contract_path("ij->j", (3, 4), shapes=True)
    assert path == [(0,)]
    path, info = tnswift.contract_path("ab,bc,cd->ad", (8, 12), (12, 14), (14, 16), shapes=True,
                                       memory_limit=10)
    assert path == [(0, 1, 2)]
    assert info.opt_cost == info.naive_cost
