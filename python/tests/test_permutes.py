"""Permutes with short contiguous runs (the copies between a TT chain's steps) against NumPy,
bit for bit: W5b's batch-100 intermediates and W5a's weight gradient at full size, prime sizes
that cannot be split into blocks, strided inputs, one and two threads."""

import numpy as np
import pytest

import tnswift

rng = np.random.default_rng(11)

CASES = [
    # W5b's forward and backward permutes (2.9M and 5.7M elements, runs of 4).
    ((4, 4, 100, 2, 7, 8, 4, 4), "abcdefgh->gfabcdeh"),
    ((100, 4, 4, 2, 7, 8, 8, 4), "abcdefgh->adefgbch"),
    # W5a's weight-gradient permute: ten 4s, single elements interleaved.
    ((4,) * 10, "abegicdfhj->abcdefghij"),
    # Primes: dimensions too large for a block that cannot be split.
    ((31, 4, 37, 4), "abcd->cabd"),
    ((1031, 3, 4), "abc->bac"),
    ((2, 3, 5, 7, 11, 2), "abcdef->faebdc"),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape, eq", CASES, ids=[eq for _, eq in CASES])
def test_permute_matches_numpy(shape, eq, threads):
    previous = tnswift.set_num_threads(threads)
    try:
        ins, outs = eq.split("->")
        perm = [ins.index(c) for c in outs]
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dtype)
            np.testing.assert_array_equal(tnswift.einsum(eq, x), x.transpose(perm))
            out = np.full([shape[p] for p in perm], np.nan, dtype)
            tnswift.einsum(eq, x, out=out)
            np.testing.assert_array_equal(out, x.transpose(perm))
    finally:
        tnswift.set_num_threads(previous)


def test_permute_of_strided_views():
    base = rng.standard_normal((8, 4, 100, 2, 7, 8, 4, 9)).astype(np.float32)
    for x in (base[::2, :, :, :, :, :, :, 2:6], base[1::2, :, ::-1, :, :, :, :, :4]):
        np.testing.assert_array_equal(tnswift.einsum("abcdefgh->gfabcdeh", x),
                                      x.transpose(6, 5, 0, 1, 2, 3, 4, 7))
