"""Ctrl-C during long decompositions, and decompositions from many threads at once."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from tnswift import decompose as D

rng = np.random.default_rng(1)


@pytest.mark.parametrize("run", [
    lambda x: D.parafac(x, 20, n_iter_max=100000, tol=0),
    lambda x: D.tucker(x, [10, 10, 10], n_iter_max=100000, tol=0),
])
def test_sigint_stops_a_long_decomposition_quickly(run):
    x = rng.standard_normal((60, 60, 60))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(x)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 3.0
    # Still usable afterwards.
    small = rng.standard_normal((4, 5, 3))
    assert D.parafac(small, 2, n_iter_max=5).rel_error(small) < 1


def test_concurrent_decompositions_match_single_threaded():
    inputs = [rng.standard_normal((8, 7, 6)) for _ in range(8)]
    jobs = [lambda x=x: D.parafac(x, 3, n_iter_max=20, tol=0).to_dense() for x in inputs[:4]]
    jobs += [lambda x=x: D.tucker(x, [3, 3, 3], n_iter_max=5, tol=0).to_dense() for x in inputs[4:6]]
    jobs += [lambda x=x: D.tensor_train(x, rank=3).to_dense() for x in inputs[6:]]
    expected = [job() for job in jobs]
    results = [None] * len(jobs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                results[i] = jobs[i]()
                np.testing.assert_array_equal(results[i], expected[i])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _interrupt_after(seconds):
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _chain(n, size):
    """A matrix chain whose contraction takes n GEMMs of size^3 (seconds in all)."""
    letters = [chr(ord("a") + i) for i in range(n + 1)]
    eq = ",".join(letters[i] + letters[i + 1] for i in range(n)) + "->" + letters[0] + letters[-1]
    mats = [rng.standard_normal((size, size)) / np.sqrt(size) for _ in range(n)]
    return eq, mats


def test_sigint_stops_a_long_contraction_and_its_backward():
    import tnswift

    eq, mats = _chain(20, 1000)
    expr = tnswift.contract_expression(eq, *[m.shape for m in mats], dtype="float64")
    t0 = time.perf_counter()
    expr(*mats)
    full = time.perf_counter() - t0
    for run in (lambda: expr(*mats), lambda: expr.backward(np.ones((1000, 1000)), *mats)):
        timer = _interrupt_after(0.2)
        start = time.perf_counter()
        try:
            with pytest.raises(KeyboardInterrupt):
                for _ in range(20):   # each pass is ~`full` seconds; Ctrl-C must cut one short
                    run()
        finally:
            timer.cancel()
        stopped_after = time.perf_counter() - start
        assert stopped_after - 0.2 < max(0.6, full / 4) + 0.1, (stopped_after, full)
    # The plan is usable and right afterwards: forward and backward against NumPy.
    small_eq, small = _chain(4, 30)
    e2 = tnswift.contract_expression(small_eq, *[m.shape for m in small], dtype="float64")
    np.testing.assert_allclose(e2(*small), np.linalg.multi_dot(small), rtol=1e-12)
    y = expr(*mats)
    np.testing.assert_allclose(y, np.linalg.multi_dot(mats), rtol=1e-9, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    grads = expr.backward(dy, *mats)
    np.testing.assert_allclose(grads[0], dy @ np.linalg.multi_dot(mats[1:]).T, rtol=1e-9, atol=1e-12)


def test_sigint_stops_a_layer_and_a_training_run():
    from tnswift import nn, optim

    layer = nn.TTLinear((16, 16, 16), (16, 16, 16), rank=64, dtype=np.float64)
    x = rng.standard_normal((2048, 4096))
    timer = _interrupt_after(0.3)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(1000):
                layer.backward(layer(x))
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 2.0
    # fit: Ctrl-C between or inside steps, then the model trains on.
    model = nn.Sequential(nn.Linear(64, 64, dtype=np.float64), nn.ReLU(), nn.Linear(64, 3, dtype=np.float64))
    xs, ys = rng.standard_normal((20000, 64)), rng.integers(0, 3, 20000)
    timer = _interrupt_after(0.3)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            nn.fit(model, optim.SGD(model.stages, lr=1e-3), xs, ys, epochs=1000, progress=False)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 1.5
    history = nn.fit(model, optim.SGD(model.stages, lr=1e-3), xs[:500], ys[:500], epochs=1, progress=False)
    assert np.isfinite(history["loss"][0])
    small = rng.standard_normal((3, 4096))
    np.testing.assert_allclose(layer(small), small @ layer.to_dense() + layer.parameters()["bias"], rtol=1e-9, atol=1e-9)
