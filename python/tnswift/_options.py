"""Normalisation of the options shared by every entry point (optimize, memory_limit, dtype)."""

import operator

import numpy as np

from ._ext import (
    OPTIMIZE_AUTO,
    OPTIMIZE_GREEDY,
    OPTIMIZE_NONE,
    OPTIMIZE_OPTIMAL,
    FLOAT32,
    FLOAT64,
    ArgumentError,
    DTypeError,
)

__all__ = ["optimize_code", "memory_limit_value", "dtype_code", "planning_dtype", "FLOAT32_DTYPE",
           "FLOAT64_DTYPE"]

FLOAT32_DTYPE = np.dtype(np.float32)
FLOAT64_DTYPE = np.dtype(np.float64)

_STRATEGIES = {
    "auto": OPTIMIZE_AUTO,
    "optimal": OPTIMIZE_OPTIMAL,
    "greedy": OPTIMIZE_GREEDY,
    "none": OPTIMIZE_NONE,
}
_VALID_OPTIMIZE = "'auto', 'optimal', 'greedy', 'none', True (= 'auto') or False (= 'none')"


def optimize_code(optimize):
    """Map a user ``optimize`` value to the engine's ``tn_optimize`` code."""
    if optimize is True:
        return OPTIMIZE_AUTO
    if optimize is False:
        return OPTIMIZE_NONE
    if isinstance(optimize, str):
        code = _STRATEGIES.get(optimize)
        if code is not None:
            return code
    raise ArgumentError(f"optimize={optimize!r} is not supported; valid values are {_VALID_OPTIMIZE}")


def memory_limit_value(memory_limit):
    """Map ``memory_limit`` (None or a positive number of elements) to the engine's value (0 = none)."""
    if memory_limit is None:
        return 0
    if not isinstance(memory_limit, bool):
        try:
            value = operator.index(memory_limit)
        except TypeError:
            pass
        else:
            if value > 0:
                return value
    raise ArgumentError(
        f"memory_limit={memory_limit!r} is not valid; expected None or a positive integer "
        "(the largest intermediate allowed, in elements)")


def dtype_code(dtype):
    """Map a NumPy dtype (float32 or float64) to the engine's ``tn_dtype`` code."""
    if dtype == FLOAT32_DTYPE:
        return FLOAT32
    if dtype == FLOAT64_DTYPE:
        return FLOAT64
    raise DTypeError(f"dtype {np.dtype(dtype)} is not supported; expected float32 or float64")


def planning_dtype(dtype):
    """Resolve a user dtype argument ("float32", np.float64, ...) to float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"dtype={dtype!r} is not a dtype; expected float32 or float64") from exc
    if resolved.kind == "f" and resolved.itemsize in (4, 8):
        return FLOAT32_DTYPE if resolved.itemsize == 4 else FLOAT64_DTYPE
    raise DTypeError(f"dtype {resolved} is not supported; expected float32 or float64")
