from typing import Any, Iterable, Literal, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._pathinfo import PathInfo

_Optimize = Union[Literal["auto", "optimal", "greedy", "none"], bool]

class ContractExpression:
    eq: str
    shapes: Tuple[Tuple[int, ...], ...]
    dtype: np.dtype[Any]
    output_shape: Tuple[int, ...]
    info: PathInfo
    def __call__(self, *arrays: npt.ArrayLike, out: Optional[np.ndarray] = ...) -> np.ndarray: ...
    def backward(
        self, dy: npt.ArrayLike, *arrays: npt.ArrayLike, wrt: Optional[Iterable[int]] = ...
    ) -> Tuple[Optional[np.ndarray], ...]: ...
    @property
    def path(self) -> list[Tuple[int, int]]: ...
    @property
    def opt_cost(self) -> float: ...
    @property
    def naive_cost(self) -> float: ...
    @property
    def largest_intermediate(self) -> int: ...

def contract_expression(
    subscripts: str,
    *shapes: Tuple[int, ...],
    dtype: npt.DTypeLike = ...,
    optimize: _Optimize = ...,
    memory_limit: Optional[int] = ...,
) -> ContractExpression: ...
