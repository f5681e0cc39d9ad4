"""The engine's worker threads: results do not depend on their number, the setting reports the old
value, and the worker pool keeps working in a forked child."""

import numpy as np
import pytest

import tnswift
import tnswift.nn


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(3)
    # Large enough that GEMMs are split over the workers and batches run in parallel.
    a = rng.standard_normal((300, 400))
    b = rng.standard_normal((400, 350))
    x = rng.standard_normal((64, 40, 50))
    y = rng.standard_normal((64, 50, 30))
    previous = tnswift.set_num_threads(1)
    try:
        assert previous >= 1
        one = (tnswift.einsum("ij,jk->ik", a, b), tnswift.einsum("bij,bjk->bik", x, y))
        assert tnswift.set_num_threads(2) == 1
        two = (tnswift.einsum("ij,jk->ik", a, b), tnswift.einsum("bij,bjk->bik", x, y))
        assert tnswift.set_num_threads(0) == 2          # 0 leaves the setting unchanged
    finally:
        tnswift.set_num_threads(previous)
    for got1, got2, ref in zip(one, two, (a @ b, x @ y)):
        np.testing.assert_allclose(got1, ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got2, ref, rtol=1e-10, atol=1e-10)


def _cp_layer_gradients(threads):
    """Output, dx and parameter gradients of W2's CP layer (its backward runs independent GEMMs
    at the same time when there are two workers), against its dense weight."""
    previous = tnswift.set_num_threads(threads)
    try:
        layer = tnswift.nn.CPLinear((4, 4, 16), (4, 4, 8), 100, bias=False, dtype=np.float64, seed=5)
        rng = np.random.default_rng(8)
        x = rng.standard_normal((32, 256))
        dy = rng.standard_normal((32, 128))
        y = layer(x)
        dx = layer.backward(dy)
        return layer, x, dy, y, dx, {k: g.copy() for k, g in layer.grads().items()}
    finally:
        tnswift.set_num_threads(previous)


def test_concurrent_backward_matches_one_worker_and_the_dense_layer():
    layer, x, dy, y1, dx1, g1 = _cp_layer_gradients(1)
    _, _, _, y2, dx2, g2 = _cp_layer_gradients(2)
    w = layer.to_dense()
    np.testing.assert_allclose(y2, x @ w, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx2, dy @ w.T, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(dx1, dx2)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name], err_msg=name)


def test_worker_pool_survives_fork():
    """A child forked after the pool started still runs parallel work, correctly: it must not wait
    for the parent's workers, which do not exist in it."""
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 400))
    b = rng.standard_normal((400, 350))
    tnswift.einsum("ij,jk->ik", a, b)               # the parent's workers are running
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = np.allclose(tnswift.einsum("ij,jk->ik", a, b), a @ b, rtol=1e-10, atol=1e-10)
            _, _, _, y, dx, _ = _cp_layer_gradients(2)
            code = 0 if ok and np.isfinite(dx).all() else 1
        finally:
            os._exit(code)
    import time
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:              # a hang in the child fails, not hangs, the test
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child did not finish in 60 s")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
