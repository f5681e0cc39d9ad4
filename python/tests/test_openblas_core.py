"""The OpenBLAS kernel family the shim chooses before libtnswift loads (tnswift._openblas_core)."""

import json
import os
import subprocess
import sys

import pytest

from tnswift import _openblas_core as core

AVX512 = frozenset("fpu sse2 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl".split())
AVX2 = frozenset("fpu sse2 avx avx2 fma".split())


@pytest.mark.parametrize("vendor, flags, expected", [
    ("GenuineIntel", AVX512, "SkylakeX"),
    ("AuthenticAMD", AVX512, "SkylakeX"),
    ("GenuineIntel", AVX2, "Haswell"),
    ("AuthenticAMD", AVX2, "Zen"),
    # AVX-512 foundation without the subsets the SkylakeX kernels use: the AVX2 kernels.
    ("GenuineIntel", AVX2 | {"avx512f"}, "Haswell"),
    # AVX without AVX2/FMA, or nothing known: OpenBLAS's own choice stands.
    ("GenuineIntel", frozenset("fpu sse2 avx".split()), None),
    ("", frozenset(), None),
])
def test_core_follows_the_instruction_sets(vendor, flags, expected):
    assert core.coretype_for(vendor, flags) == expected


def test_cpuinfo_is_read_for_the_first_processor(tmp_path):
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 fma\n\n"
            "processor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n")
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    assert core.cpuinfo(str(path)) == ("AuthenticAMD", frozenset({"fpu", "avx2", "fma"}))
    assert core.cpuinfo(str(tmp_path / "missing")) == ("", frozenset())


def test_runtime_flags_come_from_numpy():
    import numpy as np
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__ as features
    flags = core.runtime_flags()
    assert flags is not None, np.__version__
    assert ("avx2" in flags) == bool(features.get("AVX2"))
    assert ("avx512f" in flags) == bool(features.get("AVX512F"))
    assert core.cpu_description()[1] == flags


def _import_in_child(env_value):
    """library_info()['blas'] and OPENBLAS_CORETYPE after `import tnswift` in a fresh process."""
    env = dict(os.environ)
    env.pop(core.VARIABLE, None)
    if env_value is not None:
        env[core.VARIABLE] = env_value
    code = ("import json, os, tnswift; print(json.dumps([tnswift.library_info()['blas'], "
            f"os.environ.get({core.VARIABLE!r})]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _dynamic_openblas():
    import tnswift
    blas = tnswift.library_info()["blas"]
    return "OpenBLAS" in blas and "DYNAMIC_ARCH" in blas


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"),
                    reason="the choice is made on Linux x86-64 only")
def test_import_loads_the_chosen_core_and_restores_the_environment():
    if not _dynamic_openblas():
        pytest.skip("the loaded BLAS is not an OpenBLAS with DYNAMIC_ARCH")
    expected = core.coretype_for(*core.cpu_description())
    blas, after = _import_in_child(None)
    assert after is None  # the variable was set only while the library loaded
    if expected is None:
        pytest.skip("this CPU has no AVX2/FMA: OpenBLAS keeps its own choice")
    assert f" {expected} " in blas, blas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenBLAS's variable")
def test_a_core_the_user_set_is_kept():
    if not _dynamic_openblas():
        pytest.skip("the loaded BLAS is not an OpenBLAS with DYNAMIC_ARCH")
    blas, after = _import_in_child("Prescott")
    assert after == "Prescott"
    assert " Prescott " in blas, blas
