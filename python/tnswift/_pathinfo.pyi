from typing import Tuple

class PathInfo:
    eq: str
    path: list[Tuple[int, int]]
    opt_cost: float
    naive_cost: float
    largest_intermediate: int
    speedup: float
    shapes: Tuple[Tuple[int, ...], ...]
    def __str__(self) -> str: ...
