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
