"""Sequential chaining and the fit loop."""

import io

import numpy as np
import pytest

from tnswift import ArgumentError, ShapeError, nn, optim

rng = np.random.default_rng(3)


def model(seed=0):
    return nn.Sequential(nn.TTLinear((4, 4), (2, 4), rank=3, dtype=np.float64, seed=seed), nn.ReLU(),
                         nn.Linear(8, 3, dtype=np.float64, seed=seed + 1))


def test_sequential_equals_its_stages_chained():
    m = model()
    x = rng.standard_normal((5, 16))
    a, r, b = m.stages
    # Equal to rounding: a repeated call on unchanged parameters may run on the rebuilt weight.
    np.testing.assert_allclose(m(x), b(r(a(x))), rtol=1e-12, atol=1e-14)
    dy = rng.standard_normal((5, 3))
    dx = m.backward(dy)
    np.testing.assert_allclose(dx, a.backward(r.backward(b.backward(dy))), rtol=1e-12, atol=1e-14)
    assert set(m.parameters()) == {f"0.{k}" for k in a.parameters()} | {f"2.{k}" for k in b.parameters()}
    assert m.n_params == a.n_params + b.n_params
    # parameters() are views: writing changes the model.
    m.parameters()["2.bias"][...] = 1.0
    assert np.all(b.parameters()["bias"] == 1.0)
    with pytest.raises(ArgumentError):
        nn.Sequential()
    with pytest.raises(ArgumentError):
        nn.Sequential(object())


def test_fit_learns_reports_and_stops_early():
    x = rng.standard_normal((300, 16))
    labels = np.argmax(x @ rng.standard_normal((16, 3)), axis=1)
    m = model(5)
    stream = io.StringIO()
    hist = nn.fit(m, optim.Adam([m], lr=0.03), x[:240], labels[:240], epochs=25, batch_size=32,
                  validation=(x[240:], labels[240:]), stream=stream)
    assert hist["epochs"] == 25 and len(hist["loss"]) == 25 and len(hist["val_accuracy"]) == 25
    assert hist["loss"][-1] < hist["loss"][0] / 2
    assert hist["val_accuracy"][-1] > 0.8
    text = stream.getvalue()
    assert "epoch 25/25" in text and "samples/s" in text and "val_acc" in text
    # Early stopping: a learning rate of 0 never improves the validation loss after epoch 1.
    m2 = model(7)
    h2 = nn.fit(m2, optim.SGD([m2], lr=0.0), x, labels, epochs=50, validation=(x, labels), patience=3,
                progress=False)
    assert h2["epochs"] == 4
    # Regression with MSE.
    y = x @ rng.standard_normal((16, 3))
    m3 = model(9)
    h3 = nn.fit(m3, optim.Adam([m3], lr=0.02), x, y, loss="mse", epochs=40, batch_size=50, progress=False)
    assert h3["loss"][-1] < h3["loss"][0] / 5


def test_fit_rejects_bad_arguments():
    m = model()
    opt = optim.SGD([m], lr=0.1)
    x = rng.standard_normal((10, 16))
    with pytest.raises(ShapeError):
        nn.fit(m, opt, x, np.zeros(9, dtype=int), progress=False)
    with pytest.raises(ArgumentError):
        nn.fit(m, opt, x, np.zeros(10, dtype=int), loss="hinge", progress=False)
    with pytest.raises(ArgumentError):
        nn.fit(m, opt, x, np.zeros(10, dtype=int), batch_size=0, progress=False)


def test_backward_without_input_gradient_fills_the_same_parameter_gradients():
    m = model()
    x = rng.standard_normal((6, 16))
    dy = rng.standard_normal((6, 3))
    m(x)
    dx = m.backward(dy)
    full = {k: v.copy() for k, v in m.grads().items()}
    m(x)
    assert m.backward(dy, input_grad=False) is None
    for k, v in m.grads().items():
        np.testing.assert_array_equal(v, full[k])
    layer = m.stages[0]
    layer(x)
    assert layer.backward(m.stages[1].backward(m.stages[2].backward(dy)), input_grad=False) is None
    for k, v in layer.grads().items():
        np.testing.assert_array_equal(v, full["0." + k])
    assert dx.shape == x.shape
