"""Activations, losses and optimizers against NumPy formulas (always) and PyTorch (float64,
when installed), and a small network that learns with them."""

import numpy as np
import pytest

from tnswift import nn, optim
from tnswift import ArgumentError, DTypeError, ShapeError, TNError

from math import erf

rng = np.random.default_rng(0)

_REFERENCE = {
    nn.ReLU: (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    nn.GELU: (lambda x: 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2))),
              lambda x: 0.5 * (1 + np.vectorize(erf)(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
    nn.Tanh: (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    nn.Sigmoid: (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
}


@pytest.mark.parametrize("cls", list(_REFERENCE))
def test_activations_match_numpy_formulas(cls):
    f, df = _REFERENCE[cls]
    x = rng.standard_normal((4, 6))
    dy = rng.standard_normal((4, 6))
    act = cls()
    np.testing.assert_allclose(act(x), f(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.backward(dy), df(x) * dy, rtol=1e-12, atol=1e-14)


def test_losses_and_sgd_match_numpy_formulas():
    logits = rng.standard_normal((5, 3))
    labels = rng.integers(0, 3, 5)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss, grad = nn.cross_entropy(logits, labels)
    assert abs(loss - np.mean(-np.log(p[np.arange(5), labels]))) < 1e-12
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(grad, (p - onehot) / 5, atol=1e-15)
    v, g = rng.standard_normal(4), rng.standard_normal(4)
    v0, buf = v.copy(), None
    opt = optim.SGD([(v, g)], lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        d = g + 0.01 * v0
        buf = d if buf is None else 0.9 * buf + d
        v0 = v0 - 0.1 * buf
        opt.step()
    np.testing.assert_allclose(v, v0, rtol=1e-13)


@pytest.mark.parametrize("cls,name", [(nn.ReLU, "relu"), (nn.GELU, "gelu"), (nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activations_match_torch(cls, name, dtype):
    torch = pytest.importorskip("torch")
    ref = getattr(torch.nn.functional, name)
    x = rng.standard_normal((5, 7)).astype(dtype)
    dy = rng.standard_normal((5, 7)).astype(dtype)
    act = cls()
    y = act(x)
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    ty = ref(tx)
    (ty * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(act.backward(dy), tx.grad.numpy(), rtol=tol, atol=tol)
    assert y.dtype == dtype
    with pytest.raises(ShapeError):
        act.backward(dy[:2])
    with pytest.raises(ArgumentError):
        cls().backward(dy)


def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    logits = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, 6)
    loss, grad = nn.cross_entropy(logits, labels)
    tl = torch.from_numpy(logits).requires_grad_(True)
    tloss = torch.nn.functional.cross_entropy(tl, torch.from_numpy(labels))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    np.testing.assert_allclose(grad, tl.grad.numpy(), atol=1e-14)
    pred, target = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss, grad = nn.mse_loss(pred, target)
    tp = torch.from_numpy(pred).requires_grad_(True)
    tm = torch.nn.functional.mse_loss(tp, torch.from_numpy(target))
    tm.backward()
    assert abs(loss - tm.item()) < 1e-12
    np.testing.assert_allclose(grad, tp.grad.numpy(), atol=1e-14)
    with pytest.raises(TNError):
        nn.cross_entropy(logits, np.full(6, 4))
    with pytest.raises(ArgumentError):
        nn.cross_entropy(logits, labels.astype(float))
    with pytest.raises(ShapeError):
        nn.cross_entropy(logits, labels[:3])


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.5, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
])
def test_optimizers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    make = lambda p: getattr(optim, name)(p, **kwargs)  # noqa: E731
    tmake = lambda p: getattr(torch.optim, name)(p, **kwargs)  # noqa: E731
    values = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads = [np.zeros_like(v) for v in values]
    ours = make(list(zip(values, grads)))
    tparams = [torch.from_numpy(v.copy()).requires_grad_(True) for v in values]
    theirs = tmake(tparams)
    for _ in range(6):
        for g in grads:
            g[...] = rng.standard_normal(g.shape)
        for t, g in zip(tparams, grads):
            t.grad = torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
    for v, t in zip(values, tparams):
        np.testing.assert_allclose(v, t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_optimizer_errors_leave_parameters_alone():
    v, g = np.ones(3), np.array([0.1, np.nan, 0.2])
    opt = optim.Adam([(v, g)])
    with pytest.raises(TNError):
        opt.step()
    np.testing.assert_array_equal(v, 1)
    with pytest.raises(DTypeError):
        optim.SGD([(np.ones(2, np.float32), np.ones(2))], lr=0.1)
    with pytest.raises(ArgumentError):
        optim.SGD([], lr=0.1)
    with pytest.raises(TNError):
        optim.SGD([(v, g)], lr=-1)
    opt.lr = 0.5
    assert opt.lr == 0.5


def test_a_small_network_learns():
    x = rng.standard_normal((128, 16))
    teacher = rng.standard_normal((16, 3))
    labels = np.argmax(x @ teacher, axis=1)
    first = nn.TTLinear((4, 4), (4, 2), rank=3, dtype=np.float64, seed=1)
    act = nn.ReLU()
    second = nn.Linear(8, 3, dtype=np.float64, seed=2)
    opt = optim.Adam([first, second], lr=0.03)
    losses = []
    for _ in range(150):
        logits = second(act(first(x)))
        loss, dlogits = nn.cross_entropy(logits, labels)
        losses.append(loss)
        first.backward(act.backward(second.backward(dlogits)))
        opt.step()
    accuracy = np.mean(np.argmax(second(act(first(x))), axis=1) == labels)
    assert losses[-1] < losses[0] / 3 and accuracy > 0.9, (losses[0], losses[-1], accuracy)
