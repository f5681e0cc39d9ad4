"""The plan cache: repeated calls with the same expression, shapes and options skip planning."""

import functools

from ._ext import Plan

__all__ = ["einsum_plan", "ncon_plan", "CACHE_SIZE"]

CACHE_SIZE = 256


@functools.lru_cache(maxsize=CACHE_SIZE)
def einsum_plan(subscripts, shapes, dtype, optimize, memory_limit):
    """Plan for ``subscripts`` on operands of ``shapes`` (a tuple of shape tuples); cached.

    Plans are immutable and safe to share between threads.
    """
    return Plan(subscripts, shapes, dtype, optimize, memory_limit)


@functools.lru_cache(maxsize=CACHE_SIZE)
def ncon_plan(shapes, labels, dtype, optimize, memory_limit):
    """Plan for an ncon network (``labels``: a tuple of label tuples); cached."""
    return Plan.from_ncon(shapes, labels, dtype, optimize, memory_limit)
