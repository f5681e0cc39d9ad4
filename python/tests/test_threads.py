"""The engine's worker-thread setting: results do not depend on it, and it reports the old value."""

import numpy as np

import tnswift


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
