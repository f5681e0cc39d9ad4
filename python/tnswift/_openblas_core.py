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


def cpu_description(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """The first processor's vendor and instruction-set flags (empty when unreadable)."""
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
