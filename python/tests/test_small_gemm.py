"""GEMMs on the shapes routed to tnswift's own small-GEMM kernel (one with an output large
enough to be written past the caches), with the kernel on (on AVX-512 where the CPU has it),
held to AVX2 by TNSWIFT_NO_AVX512, and turned off by TNSWIFT_NO_KERNELS (OpenBLAS then runs),
against NumPy in float64."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tnswift
    rng = np.random.default_rng(0)
    worst = 0.0
    # C widths that fill whole panels (16 floats, 8 doubles) or one panel at least half way,
    # and k <= 64; plain and transposed operands, row counts not a multiple of the tile.
    for dt, m, k, n in [(np.float32, 97, 32, 16), (np.float32, 13, 5, 48), (np.float64, 64, 64, 8),
                        (np.float64, 31, 17, 24), (np.float32, 8, 64, 32), (np.float64, 23, 3, 16),
                        (np.float32, 45, 16, 12), (np.float32, 9, 7, 8), (np.float64, 33, 40, 5)]:
        for eq in ["ik,kj->ij", "ki,kj->ij", "ik,jk->ij", "ki,jk->ij"]:
            a_shape = (m, k) if eq[0] == "i" else (k, m)
            b_shape = (k, n) if eq[3] == "k" else (n, k)
            a = rng.standard_normal(a_shape).astype(dt)
            b = rng.standard_normal(b_shape).astype(dt)
            got = tnswift.einsum(eq, a, b)
            want = np.einsum(eq, a.astype(np.float64), b.astype(np.float64))
            tol = 1e-5 if dt == np.float32 else 1e-13
            err = np.abs(got - want).max() / np.abs(want).max()
            assert err <= tol, (eq, dt, m, k, n, err)
            worst = max(worst, err)
    # An output past the streaming threshold (8 MiB): W5b's first GEMM, 23 MB written with
    # stores that bypass the caches, split over the workers by batch.
    x = rng.standard_normal((8, 11200, 28)).astype(np.float32)
    w = rng.standard_normal((64, 28)).astype(np.float32)
    got = tnswift.einsum("bnk,mk->bmn", x, w)
    want = np.matmul(w.astype(np.float64), x.astype(np.float64).transpose(0, 2, 1))
    err = np.abs(got - want).max() / np.abs(want).max()
    assert err <= 1e-5, ("streamed", err)
    print("ok", max(worst, err))
""")


@pytest.mark.parametrize("setting", [None, "TNSWIFT_NO_AVX512", "TNSWIFT_NO_KERNELS"],
                         ids=["kernel", "kernel-avx2", "openblas"])
def test_small_gemm_shapes_match_numpy(setting):
    env = dict(os.environ)
    env.pop("TNSWIFT_NO_KERNELS", None)
    env.pop("TNSWIFT_NO_AVX512", None)
    if setting:
        env[setting] = "1"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok"), proc.stdout
