"""OpenBLAS's kernel family, chosen from the CPU's instruction sets before libtnswift loads.

An OpenBLAS built with DYNAMIC_ARCH (Debian's, for one) picks its kernels by CPU model number
when it is loaded. On a model newer than the installed OpenBLAS it falls back to its SSE3
kernels ("Prescott"): Debian 12's OpenBLAS 0.3.21 on an Emerald Rapids Xeon (family 6, model
207) ran float64 GEMMs at 11-15 GFLOP/s per core instead of 65. OpenBLAS reads
``OPENBLAS_CORETYPE`` once, as it loads, so the shim sets it (from the instruction sets, which
do not go stale) for the duration of the load and then restores the environment. A value the
user set is left alone.
"""

from __future__ import annotations

import contextlib
import os
import sys

VARIABLE = "OPENBLAS_CORETYPE"

# AVX-512 foundation plus the subsets OpenBLAS's SkylakeX kernels use.
_AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
_AVX2 = frozenset({"avx2", "fma"})


def cpuinfo(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """The first processor's vendor and instruction-set flags in /proc/cpuinfo (empty when
    unreadable)."""
    vendor, flags = "", frozenset()
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = frozenset(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


# NumPy's runtime feature names, and the /proc/cpuinfo names used here.
_NUMPY_NAMES = {"AVX2": "avx2", "FMA3": "fma", "AVX512F": "avx512f", "AVX512CD": "avx512cd",
                "AVX512BW": "avx512bw", "AVX512DQ": "avx512dq", "AVX512VL": "avx512vl"}


def runtime_flags() -> frozenset[str] | None:
    """The instruction sets NumPy found usable at run time (asking the CPU and the OS, so that
    a CPU emulator such as valgrind, which runs no AVX-512, is seen as it is), in /proc/cpuinfo
    names; None when NumPy does not say."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return None
    return frozenset(name for key, name in _NUMPY_NAMES.items() if features.get(key))


def cpu_description() -> tuple[str, frozenset[str]]:
    """This CPU's vendor, and its instruction-set flags as NumPy found them at run time (else
    as /proc/cpuinfo lists them)."""
    vendor, flags = cpuinfo()
    found = runtime_flags()
    return vendor, flags if found is None else found


def coretype_for(vendor: str, flags: frozenset[str]) -> str | None:
    """The OpenBLAS core whose float32/float64 kernels fit these instruction sets, or None
    (leave OpenBLAS's own choice) for CPUs without AVX2 and FMA."""
    if _AVX512 <= flags:
        return "SkylakeX"
    if _AVX2 <= flags:
        return "Zen" if vendor == "AuthenticAMD" else "Haswell"
    return None


@contextlib.contextmanager
def chosen_for_load():
    """Sets ``OPENBLAS_CORETYPE`` while the body loads libtnswift, unless it is already set or
    this is not Linux on x86-64; restores the environment afterwards."""
    chosen = None
    if VARIABLE not in os.environ and sys.platform.startswith("linux") and os.uname().machine == "x86_64":
        chosen = coretype_for(*cpu_description())
    if chosen is None:
        yield None
        return
    os.environ[VARIABLE] = chosen
    try:
        yield chosen
    finally:
        os.environ.pop(VARIABLE, None)


if __name__ == "__main__":
    # For the Makefile's Swift and C tests, which load OpenBLAS without the Python shim.
    print(coretype_for(*cpu_description()) or "")
