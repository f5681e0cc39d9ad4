"""Shared helpers for the tnswift test-suite.

Everything here is pure NumPy: equation normalisation (ellipsis expansion,
implicit outputs), float64 references with error bounds scaled by the
magnitude of the summed terms, random equation generators and opt_einsum-style
cost accounting used by the path tests.
"""

from __future__ import annotations

import itertools
import string

import numpy as np

LETTERS = string.ascii_lowercase + string.ascii_uppercase

F32_RTOL = 1e-4
F64_RTOL = 1e-10


# --------------------------------------------------------------------------
# Equation normalisation
# --------------------------------------------------------------------------

def split_equation(eq):
    """'ij,jk->ik' -> (['ij', 'jk'], 'ik'); implicit output -> None."""
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    return lhs.split(","), rhs


def normalize(eq, shapes):
    """Expand the ellipsis and the implicit output of a NumPy einsum equation.

    Returns (inputs, output): lists of label strings with every '...'
    replaced by fresh letters (right-aligned broadcasting, as NumPy does).
    """
    terms, rhs = split_equation(eq)
    assert len(terms) == len(shapes), (eq, shapes)
    used = set(eq)
    free = [c for c in LETTERS if c not in used]
    ell_len = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            ell_len = max(ell_len, len(shape) - (len(term) - 3))
    ell = "".join(free[:ell_len])
    inputs = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", ell[ell_len - k:] if k else "")
        assert len(term) == len(shape), (eq, shapes)
        inputs.append(term)
    if rhs is None:
        counts = {}
        for term in terms:
            for c in term.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        out = rhs.replace("...", ell)
    return inputs, out


def label_sizes(inputs, shapes):
    """Size of every label; a size-1 dimension broadcasts against a larger one."""
    sizes = {}
    for term, shape in zip(inputs, shapes):
        for c, d in zip(term, shape):
            d = int(d)
            if c not in sizes or sizes[c] == 1:
                sizes[c] = d
    return sizes


def normalized_equation(inputs, output):
    return ",".join(inputs) + "->" + output


# --------------------------------------------------------------------------
# References and comparisons
# --------------------------------------------------------------------------

def as64(x):
    return np.array(x, dtype=np.float64, copy=True)


def reference(eq, operands, optimize=False):
    """float64 einsum result and the magnitude of its terms (einsum of |x|)."""
    ops64 = [as64(o) for o in operands]
    ref = np.einsum(eq, *ops64, optimize=optimize)
    mag = np.einsum(eq, *[np.abs(o) for o in ops64], optimize=optimize)
    return np.asarray(ref), np.asarray(mag)


def result_dtype(operands):
    dts = {np.asarray(o).dtype for o in operands}
    return np.float32 if dts == {np.dtype(np.float32)} else np.float64


def rtol_for(dtype):
    return F32_RTOL if np.dtype(dtype) == np.float32 else F64_RTOL


def close_error(got, ref, mag, rtol):
    """Return None when |got - ref| <= rtol * (|ref| + mag) everywhere, else a message."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return f"shape {got.shape} != expected {ref.shape}"
    if got.size == 0:
        return None
    if not np.all(np.isfinite(got)):
        return "non-finite values in result"
    tol = rtol * (np.abs(ref) + np.asarray(mag, dtype=np.float64)) + 1e-300
    err = np.abs(got - ref)
    bad = err > tol
    if np.any(bad):
        idx = np.unravel_index(np.argmax(err / tol), err.shape) if err.ndim else ()
        return (f"{int(bad.sum())}/{bad.size} elements off; worst at {idx}: "
                f"got {got[idx]!r} expected {ref[idx]!r} (tol {tol[idx]:.3g})")
    return None


def assert_close(got, ref, mag, rtol, what=""):
    msg = close_error(got, ref, mag, rtol)
    assert msg is None, f"{what}: {msg}"


# --------------------------------------------------------------------------
# Operand layouts
# --------------------------------------------------------------------------

LAYOUTS = ("c", "c", "c", "transposed", "sliced", "negative", "fortran", "broadcast0")


def make_array(rng, shape, dtype, layout="c"):
    """A float array of `shape` and `dtype` with the requested memory layout."""
    shape = tuple(int(s) for s in shape)
    nd = len(shape)
    if layout == "transposed" and nd >= 2:
        perm = rng.permutation(nd)
        base = rng.standard_normal([shape[p] for p in perm]).astype(dtype)
        arr = base.transpose(np.argsort(perm))
        assert arr.shape == shape
        return arr
    if layout == "sliced" and nd >= 1:
        base = rng.standard_normal([2 * s + 1 for s in shape]).astype(dtype)
        arr = base[tuple(slice(1, 1 + 2 * s, 2) for s in shape)]
        assert arr.shape == shape
        return arr
    if layout == "negative" and nd >= 1:
        base = rng.standard_normal(shape).astype(dtype)
        sl = tuple(slice(None, None, -1) if rng.random() < 0.6 else slice(None)
                   for _ in shape)
        return base[sl]
    if layout == "fortran" and nd >= 2:
        return np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    if layout == "broadcast0" and nd >= 1:
        # zero strides on some axes (read-only view, as np.broadcast_to makes)
        small = tuple(1 if rng.random() < 0.5 else s for s in shape)
        base = rng.standard_normal(small).astype(dtype)
        return np.broadcast_to(base, shape)
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------
# Random equations
# --------------------------------------------------------------------------

class Case:
    """One generated einsum problem."""

    def __init__(self, eq, shapes, n_ops):
        self.eq = eq
        self.shapes = shapes
        self.n_ops = n_ops

    def __repr__(self):
        return f"Case({self.eq!r}, shapes={self.shapes})"


def _choose_sizes(rng, labels, allow_one=True, allow_zero=False, lo=2, hi=5):
    sizes = {}
    for c in labels:
        r = rng.random()
        if allow_zero and r < 0.01:
            sizes[c] = 0
        elif allow_one and r < 0.08:
            sizes[c] = 1
        else:
            sizes[c] = int(rng.integers(lo, hi + 1))
    return sizes


def gen_equation(rng, n_ops=None, max_work=20000, ellipsis=True,
                 repeated=True, broadcast=True, implicit=True, zero=True,
                 max_ndim=4, lo=2, hi=5):
    """Random NumPy-valid einsum equation and shapes.

    Returns Case(eq, shapes). Validity is checked against numpy.einsum by the
    caller-facing wrapper `gen_valid`.
    """
    if n_ops is None:
        n_ops = int(rng.choice([1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6]))
    n_labels = int(rng.integers(2, min(8, 2 + 2 * n_ops) + 1))
    pool_src = "abcdefghijklmnopqrstuvwxyz" + ("ABCXYZ" if rng.random() < 0.2 else "")
    pool = list(rng.choice(list(pool_src), size=n_labels, replace=False))
    sizes = _choose_sizes(rng, pool, allow_zero=zero, lo=lo, hi=hi)

    terms = []
    for _ in range(n_ops):
        nd = min(int(rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 3, 4])), max_ndim)
        labs = [str(c) for c in rng.choice(pool, size=nd, replace=True)] if nd else []
        if not repeated or rng.random() > 0.2:
            labs = list(dict.fromkeys(labs))  # drop repeats within the operand
        terms.append(labs)
    # make sure most labels are used and that operands are connected a bit
    if n_ops >= 2:
        for k in range(1, n_ops):
            if rng.random() < 0.7 and terms[k - 1]:
                c = str(rng.choice(terms[k - 1]))
                if c not in terms[k] and len(terms[k]) < max_ndim:
                    terms[k].insert(int(rng.integers(0, len(terms[k]) + 1)), c)

    # ellipsis
    use_ell = ellipsis and rng.random() < 0.2
    ell_sizes = []
    ell_in = [False] * n_ops
    ell_len = [0] * n_ops
    if use_ell:
        E = int(rng.integers(0, 3))
        ell_sizes = [int(rng.integers(2, 4)) for _ in range(E)]
        for k in range(n_ops):
            ell_in[k] = rng.random() < 0.7
        if not any(ell_in):
            ell_in[int(rng.integers(0, n_ops))] = True
        for k in range(n_ops):
            if ell_in[k]:
                ell_len[k] = int(rng.integers(0, E + 1)) if rng.random() < 0.4 else E
        if E and max(ell_len) < E:
            ell_len[[k for k in range(n_ops) if ell_in[k]][0]] = E

    # per-operand shapes, with optional size-1 broadcasting of named labels
    shapes = []
    counts = {}
    for labs in terms:
        for c in labs:
            counts[c] = counts.get(c, 0) + 1
    bcast_label = None
    if broadcast and rng.random() < 0.15:
        multi = [c for c, n in counts.items()
                 if n >= 2 and sizes[c] > 1
                 and sum(c in t for t in terms) >= 2
                 and all(t.count(c) <= 1 for t in terms)]
        if multi:
            bcast_label = str(rng.choice(multi))
    bcast_done = False
    term_strs = []
    for k, labs in enumerate(terms):
        shp = []
        if ell_in[k]:
            e_sizes = ell_sizes[len(ell_sizes) - ell_len[k]:]
            e_sizes = [1 if (broadcast and rng.random() < 0.25) else s for s in e_sizes]
        else:
            e_sizes = []
        named = []
        for c in labs:
            s = sizes[c]
            if c == bcast_label and not bcast_done:
                s = 1
                bcast_done = True
            named.append(s)
        if ell_in[k]:
            pos = int(rng.integers(0, len(labs) + 1))
            term = "".join(labs[:pos]) + "..." + "".join(labs[pos:])
            shp = named[:pos] + e_sizes + named[pos:]
        else:
            term = "".join(labs)
            shp = named
        term_strs.append(term)
        shapes.append(tuple(shp))

    all_labels = list(dict.fromkeys(c for labs in terms for c in labs))
    if implicit and rng.random() < 0.3:
        eq = ",".join(term_strs)
    else:
        out = [c for c in all_labels if rng.random() < 0.5]
        rng.shuffle(out)
        out = "".join(out)
        if use_ell and (ell_sizes or rng.random() < 0.5):
            pos = int(rng.integers(0, len(out) + 1))
            out = out[:pos] + "..." + out[pos:]
        eq = ",".join(term_strs) + "->" + out

    # bound the work of the float64 nested-loop reference
    inputs, output = normalize(eq, shapes)
    ls = label_sizes(inputs, shapes)
    work = 1
    for s in ls.values():
        work *= max(s, 1)
    if work > max_work:
        return None
    return Case(eq, shapes, n_ops)


def numpy_accepts(eq, shapes):
    try:
        np.einsum(eq, *[np.zeros(s) for s in shapes], optimize=False)
    except ValueError:
        return False
    return True


def gen_valid(rng, **kw):
    while True:
        case = gen_equation(rng, **kw)
        if case is not None and numpy_accepts(case.eq, case.shapes):
            return case


def to_interleaved(eq, operands):
    """NumPy's interleaved form: op0, sublist0, op1, sublist1, ..., [sublistout]."""
    terms, rhs = split_equation(eq)
    mapping = {}

    def conv(term):
        out = []
        i = 0
        while i < len(term):
            if term.startswith("...", i):
                out.append(Ellipsis)
                i += 3
                continue
            c = term[i]
            if c not in mapping:
                # interleaved labels are ints 0..51 (NumPy: 0-25 'A'-'Z',
                # 26-51 'a'-'z'); keep that order so implicit outputs agree.
                mapping[c] = ord(c) - 65 if c.isupper() else 26 + ord(c) - 97
            out.append(mapping[c])
            i += 1
        return out

    args = []
    for op, term in zip(operands, terms):
        args += [op, conv(term)]
    if rhs is not None:
        args.append(conv(rhs))
    return args


# --------------------------------------------------------------------------
# Costs as opt_einsum counts them
# --------------------------------------------------------------------------

def size_of(labels, sizes):
    n = 1
    for c in labels:
        n *= sizes[c]
    return n


def pair_step(sets, i, j, output, sizes):
    """Contract operands i<j of the current list of label sets.

    Returns (new_sets, cost, result_size)."""
    a, b = sets[i], sets[j]
    rest = [s for k, s in enumerate(sets) if k not in (i, j)]
    union = a | b
    keep = set(output)
    for s in rest:
        keep |= s
    result = frozenset(c for c in union if c in keep)
    cost = size_of(union, sizes) * (2 if len(result) < len(union) else 1)
    return rest + [result], cost, size_of(result, sizes)


def path_cost(inputs, output, sizes, path):
    """Cost and largest intermediate of a pairwise path (opt_einsum's form)."""
    sets = [frozenset(t) for t in inputs]
    total = 0
    largest = 0
    for step in path:
        step = tuple(int(s) for s in step)
        if len(step) == 1:
            (i,) = step
            a = sets[i]
            keep = set(output)
            for k, s in enumerate(sets):
                if k != i:
                    keep |= s
            result = frozenset(c for c in a if c in keep)
            total += size_of(a, sizes) * (2 if len(result) < len(a) else 1)
            sets = [s for k, s in enumerate(sets) if k != i] + [result]
            largest = max(largest, size_of(result, sizes))
            continue
        i, j = sorted(step)
        assert 0 <= i < j < len(sets), f"invalid step {step} with {len(sets)} operands"
        sets, cost, rsize = pair_step(sets, i, j, output, sizes)
        total += cost
        largest = max(largest, rsize)
    assert len(sets) == 1, f"path leaves {len(sets)} operands"
    return total, largest


def all_paths(n):
    """Every sequence of pairwise contractions of n operands (opt_einsum form)."""
    if n <= 1:
        yield []
        return
    for i, j in itertools.combinations(range(n), 2):
        for rest in all_paths(n - 1):
            yield [(i, j)] + rest


def brute_force(inputs, output, sizes, memory_limit=None):
    """(best cost, best path, list of (cost, largest) for every path)."""
    best = None
    table = []
    for path in all_paths(len(inputs)):
        cost, largest = path_cost(inputs, output, sizes, path)
        table.append((cost, largest))
        if memory_limit is not None and largest > memory_limit:
            continue
        if best is None or cost < best[0]:
            best = (cost, path)
    if best is None:
        return None, None, table
    return best[0], best[1], table


def naive_cost(inputs, output, sizes):
    """opt_einsum's naive FLOP count."""
    indices = set()
    for t in inputs:
        indices |= set(t)
    inner = sum(len(set(t)) for t in inputs) - len(indices) > 0
    factor = max(1, len(inputs) - 1) + (1 if inner else 0)
    return size_of(indices, sizes) * factor
