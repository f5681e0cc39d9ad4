"""Property-based tests (hypothesis) of every entry point against float64 NumPy references.

The CI profile runs a few dozen cases per target inside `make test`; `make fuzz` selects the
long profile (TNSWIFT_FUZZ_PROFILE=long: 10,000 cases per target).
"""

import os
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tnswift
from tnswift import decompose as D
from tnswift import nn

settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("TNSWIFT_FUZZ_PROFILE", "ci"))


def rel(a, b):
    b = np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(b)
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / (den if den > 0 else 1.0))


def einsum_with_bound(eq, ops):
    """np.einsum's result, and the same sum over the terms' magnitudes: the scale of the error
    a rounded sum may make in each element."""
    return np.einsum(eq, *ops), np.einsum(eq, *[np.abs(o) for o in ops])


def rounding_error(got, want, bound):
    """The largest error of a computed sum, each element's measured against the sum of its
    terms' magnitudes (the bound a rounded sum meets): a result that cancels to near zero is
    held to what its terms allow, not to a relative error no summation order can promise (a
    network that cancelled to 3.8e-4 from terms near 1 was 1.2e-12 off relative to it)."""
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want) / np.where(bound > 0, bound, 1.0), initial=0.0))


@st.composite
def contractions(draw):
    """An einsum over 1-4 operands with labels of sizes 1-4 (each label at most once per
    operand), its operands in float64, and an output of distinct labels."""
    letters = string.ascii_lowercase[:draw(st.integers(1, 6))]
    sizes = {c: draw(st.integers(1, 4)) for c in letters}
    n = draw(st.integers(1, 4))
    terms = [draw(st.lists(st.sampled_from(letters), max_size=4, unique=True)) for _ in range(n)]
    used = sorted({c for t in terms for c in t})
    out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    eq = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    ops = [rng.standard_normal([sizes[c] for c in t]) for t in terms]
    return eq, ops


@given(contractions())
def test_einsum_matches_numpy(case):
    eq, ops = case
    assert rounding_error(tnswift.einsum(eq, *ops), *einsum_with_bound(eq, ops)) < 1e-12


@given(contractions())
def test_backward_matches_numpy_gradients(case):
    eq, ops = case
    expr = tnswift.contract_expression(eq, *[o.shape for o in ops], dtype="float64")
    y = expr(*ops)
    dy = np.random.default_rng(1).standard_normal(np.shape(y))
    grads = expr.backward(dy, *ops)
    ins, out = eq.split("->")
    terms = ins.split(",")
    for i, g in enumerate(grads):
        # d/dop_i sum(y * dy): contract dy with the other operands onto op_i's labels; labels
        # of op_i found nowhere else were summed in y, so the gradient broadcasts along them.
        others = [t for j, t in enumerate(terms) if j != i]
        seen = set(out).union(*map(set, others)) if others else set(out)
        keep = "".join(c for c in terms[i] if c in seen)
        ref, bound = einsum_with_bound(",".join([out] + others) + "->" + keep,
                                       [dy] + [o for j, o in enumerate(ops) if j != i])
        if len(keep) < len(terms[i]):
            axes = [k for k, c in enumerate(terms[i]) if c not in seen]
            ref, bound = (np.broadcast_to(np.expand_dims(v, axes), ops[i].shape) for v in (ref, bound))
        assert rounding_error(g, ref, bound) < 1e-11, (eq, i)


@st.composite
def low_rank_tensors(draw):
    d = draw(st.integers(2, 5))
    shape = [draw(st.integers(1, 6)) for _ in range(d)]
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    r = draw(st.integers(1, 3))
    x = rng.standard_normal(shape)
    # Mostly low-rank (a sum of r rank-one terms) plus noise, so truncation has work to do.
    low = sum(np.einsum(",".join("abcdefgh"[k] for k in range(d)) + "->" + "abcdefgh"[:d],
                        *[rng.standard_normal(n) for n in shape]) for _ in range(r))
    return low + draw(st.sampled_from([0.0, 1e-3, 0.1])) * x, draw(st.sampled_from([0.0, 1e-4, 1e-2, 0.1, 0.5]))


@given(low_rank_tensors())
def test_tensor_train_and_tucker_keep_the_eps_bound(case):
    x, eps = case
    bound = (eps * (1 + 1e-9) + 1e-12) * np.linalg.norm(x)   # rounding slack relative to x
    assert np.linalg.norm(D.tensor_train(x, eps=eps).to_dense() - x) <= bound
    assert np.linalg.norm(D.tucker(x, eps=eps, n_iter_max=3).to_dense() - x) <= bound
    tt = D.tensor_train(x, eps=eps)
    assert np.linalg.norm((tt + tt).round(eps=eps).to_dense() - 2 * x) <= 2 * bound + eps * 2 * np.linalg.norm(x)


@given(low_rank_tensors(), st.integers(1, 4))
def test_parafac_errors_are_exact_and_the_best_iterate_is_returned(case, rank):
    x, _ = case
    if x.size < rank:
        return
    cp = D.parafac(x, rank, n_iter_max=15, tol=0)
    assert np.all(np.isfinite(cp.to_dense()))
    # The reported errors are exact where the cheap estimate would cancel, and the result is
    # the iterate with the lowest one (ALS can rise when the Gram product is singular).
    assert abs(cp.rel_error(x) - min(cp.errors)) <= 1e-9 + 1e-6 * min(cp.errors)


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["tt", "cp", "tucker", "linear"]))
    d = draw(st.integers(1, 3))
    ins = tuple(draw(st.integers(1, 4)) for _ in range(d))
    outs = tuple(draw(st.integers(1, 4)) for _ in range(d if kind == "tt" else draw(st.integers(1, 3))))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 1000))
    if kind == "tt":
        layer = nn.TTLinear(ins, outs, draw(st.integers(1, 3)), bias=bias, dtype=np.float64, seed=seed)
    elif kind == "cp":
        layer = nn.CPLinear(ins, outs, draw(st.integers(1, 4)), bias=bias, dtype=np.float64, seed=seed)
    elif kind == "tucker":
        layer = nn.TuckerLinear(ins, outs, draw(st.integers(1, 3)), bias=bias, dtype=np.float64, seed=seed)
    else:
        layer = nn.Linear(int(np.prod(ins)), int(np.prod(outs)), bias=bias, dtype=np.float64, seed=seed)
    return layer, draw(st.integers(0, 5))


@given(layers())
def test_layers_match_their_dense_weight(case):
    layer, batch = case
    rng = np.random.default_rng(batch)
    if layer.parameters().get("bias") is not None:
        layer.parameters()["bias"][...] = rng.standard_normal(layer.out_features)
    b = layer.parameters().get("bias", np.zeros(layer.out_features))
    x = rng.standard_normal((batch, layer.in_features))
    w = layer.to_dense()
    for _ in range(2):   # the second call may run on the rebuilt weight
        assert rel(layer(x), x @ w + b) < 1e-11
    dy = rng.standard_normal((batch, layer.out_features))
    assert rel(layer.backward(dy), dy @ w.T) < 1e-11


# ---------------------------------------------------------------------------- ncon

@st.composite
def networks(draw):
    """A tensor network in the ncon convention: 1-4 tensors, bonds between two tensors or
    within one (a trace), open legs numbered -1, -2, ...; with its einsum equivalent."""
    n = draw(st.integers(1, 4))
    legs = [[] for _ in range(n)]
    sizes = {}
    letters = iter(string.ascii_letters)
    bonds = draw(st.integers(0, 4))
    for b in range(1, bonds + 1):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if len(legs[i]) >= 4 or len(legs[j]) >= 4:
            continue
        sizes[b] = draw(st.integers(1, 4))
        legs[i].append(b)
        legs[j].append(b)
    opened = 0
    for i in range(n):
        for _ in range(draw(st.integers(0 if legs[i] else 1, 2))):
            opened += 1
            sizes[-opened] = draw(st.integers(1, 4))
            legs[i].append(-opened)
    for i in range(n):
        legs[i] = draw(st.permutations(legs[i]))
    name = {label: next(letters) for label in sizes}
    eq = ",".join("".join(name[l] for l in t) for t in legs) + "->" + "".join(name[-k] for k in range(1, opened + 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    tensors = [rng.standard_normal([sizes[l] for l in t]) for t in legs]
    return tensors, legs, eq


@given(networks())
def test_ncon_matches_numpy(case):
    tensors, network, eq = case
    assert rounding_error(tnswift.ncon(tensors, network), *einsum_with_bound(eq, tensors)) <= 1e-12


# ---------------------------------------------------------------------------- convolutions

@st.composite
def convolutions(draw):
    kind = draw(st.sampled_from(["dense", "cp", "tucker", "tt"]))
    c, o = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same", 0, 1, 2, (1, 0)]))
    if padding == "same":
        stride = (1, 1)
    lo = [dilation[d] * (k[d] - 1) + 1 for d in range(2)]
    h, w = draw(st.integers(lo[0], lo[0] + 4)), draw(st.integers(lo[1], lo[1] + 4))
    n = draw(st.integers(1, 2))
    return kind, c, o, k, stride, padding, dilation, (n, c, h, w), draw(st.integers(0, 2**31)), draw(st.booleans())


@given(convolutions())
def test_convolutions_match_a_reference_convolution(case):
    from test_conv import ref_conv

    kind, c, o, k, stride, padding, dilation, shape, seed, bias = case
    common = dict(stride=stride, padding=padding, dilation=dilation, bias=bias, dtype=np.float64, seed=seed % 1000)
    layer = {"dense": lambda: nn.Conv2d(c, o, k, **common),
             "cp": lambda: nn.CPConv2d(c, o, k, rank=2, **common),
             "tucker": lambda: nn.TuckerConv2d(c, o, k, rank=2, **common),
             "tt": lambda: nn.TTConv2d(c, o, k, rank=2, **common)}[kind]()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    y = layer(x)
    b = layer.parameters()["bias"] if bias else None
    dy = rng.standard_normal(y.shape)
    want, dx_want, dk = ref_conv(x, layer.to_dense(), b, stride, padding, dilation, dy)
    assert y.shape == want.shape and rel(y, want) <= 1e-10
    assert rel(layer.backward(dy), dx_want) <= 1e-10
    if kind == "dense":
        assert rel(layer.grads()["weight"], dk) <= 1e-10


# ---------------------------------------------------------------------------- TT embeddings

@st.composite
def embeddings(draw):
    d = draw(st.integers(1, 4))
    rows = [draw(st.integers(1, 5)) for _ in range(d)]
    cols = [draw(st.integers(1, 3)) for _ in range(d)]
    ranks = [draw(st.integers(1, 3)) for _ in range(d - 1)] or [1]
    n = draw(st.integers(1, int(np.prod(rows))))
    padding = draw(st.sampled_from([None, 0, n - 1]))
    indices = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=30))
    mode = draw(st.sampled_from([None, "sum", "mean"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(indices)), min_size=0, max_size=4)))
    return rows, cols, ranks, n, padding, indices, mode, [0] + cuts, draw(st.integers(0, 2**31))


@given(embeddings())
def test_embeddings_match_the_dense_table(case):
    from test_embedding import core_gradients, reference, table_gradient

    rows, cols, ranks, n, padding, indices, mode, offsets, seed = case
    layer = nn.TTEmbedding(n, int(np.prod(cols)), rank=ranks, n_modes=len(rows), row_modes=rows, col_modes=cols,
                           padding_idx=padding, mode=mode, dtype=np.float64, seed=seed % 1000)
    idx = np.array(indices, dtype=np.int64)
    off = None if mode is None else np.array(offsets, dtype=np.int64)
    y = layer(idx, off)
    want = reference(layer, idx, off)
    assert y.shape == want.shape and rel(y, want) <= 1e-10
    dy = np.random.default_rng(seed).standard_normal(y.shape)
    layer.backward(dy)
    cores = [a.astype(np.float64) for a in layer.parameters().values()]
    for g, e in zip(layer.grads().values(), core_gradients(cores, table_gradient(layer, idx, dy, off))):
        assert rel(g, e) <= 1e-10


# ---------------------------------------------------------------------------- hostile model files

_MODEL_BYTES = None


def _model_bytes(tmp_dir):
    global _MODEL_BYTES
    if _MODEL_BYTES is None:
        m = nn.Sequential(nn.Flatten(), nn.TTLinear((2, 3), (2, 2), rank=2, dtype=np.float64), nn.ReLU(),
                          nn.Dropout(0.2), nn.CPLinear(4, 3, rank=2, dtype=np.float64),
                          nn.EinsumLayer("ni,io->no", [(3, 2)], dtype=np.float64))
        path = os.path.join(tmp_dir, "valid.safetensors")
        m.save(path)
        with open(path, "rb") as f:
            _MODEL_BYTES = f.read()
    return _MODEL_BYTES


@st.composite
def mutated_files(draw):
    """A valid model file with one to three mutations: truncation, bit flips, inserted or deleted
    bytes, a rewritten header length, or a numeric field of the header rewritten."""
    return [draw(st.tuples(st.sampled_from(["truncate", "flip", "insert", "delete", "length", "number"]),
                           st.integers(0, 2**31), st.integers(0, 2**63 - 1)))
            for _ in range(draw(st.integers(1, 3)))]


def _mutate(data, mutations):
    data = bytearray(data)
    for kind, where, value in mutations:
        at = where % max(len(data), 1)
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            if data:
                data[at] ^= 1 << (value % 8)
        elif kind == "insert":
            data[at:at] = bytes([value % 256]) * (1 + value % 7)
        elif kind == "delete":
            del data[at:at + 1 + value % 7]
        elif kind == "length":
            data[:8] = (value % (1 << 64)).to_bytes(8, "little")
        else:  # a digit run inside the header becomes another number (a shape, an offset, a rank)
            text = bytes(data)
            digits = [i for i in range(8, min(len(text), 8 + 4096)) if 48 <= text[i] <= 57]
            if digits:
                i = digits[where % len(digits)]
                data[i:i + 1] = str(value % (10 ** (1 + value % 19))).encode()
    return bytes(data)


@given(mutated_files())
def test_mutated_model_files_fail_cleanly_or_load_a_working_model(tmp_path_factory, mutations):
    tmp = tmp_path_factory.getbasetemp()
    data = _mutate(_model_bytes(str(tmp)), mutations)
    path = os.path.join(str(tmp), "mutated.safetensors")
    with open(path, "wb") as f:
        f.write(data)
    try:
        model = nn.load(path)
    except (ValueError, TypeError) as e:
        assert str(e)  # a message, never an empty error
        return
    # A mutation the validation cannot see (a flipped mantissa bit, a digit of the dropout
    # probability) still yields a model that runs on its declared width.
    width = next(s.in_features for s in model.stages if hasattr(s, "in_features"))
    y = model(np.ones((2, width)))
    assert y.shape[0] == 2
