from typing import Any, Literal, Optional, Tuple, Union

import numpy as np

from ._pathinfo import PathInfo as PathInfo

_Optimize = Union[Literal["auto", "optimal", "greedy", "none"], bool]

def einsum(
    subscripts: Any,
    *operands: Any,
    out: Optional[np.ndarray] = ...,
    optimize: _Optimize = ...,
    memory_limit: Optional[int] = ...,
) -> Any: ...
def contract_path(
    subscripts: Any,
    *operands: Any,
    shapes: bool = ...,
    optimize: _Optimize = ...,
    memory_limit: Optional[int] = ...,
) -> Tuple[list[Tuple[int, int]], PathInfo]: ...
