"""Type stubs for tnswift.conv."""

from collections.abc import Sequence
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_Pair = Union[int, Sequence[int]]
_Padding = Union[int, Sequence[int], str]
_Modes = Union[int, Sequence[int]]
_Rank = Union[int, Sequence[int]]

class _Conv:
    in_channels: int
    out_channels: int
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    dilation: Tuple[int, int]
    padding: Union[Tuple[int, int], str]
    applied_padding: Tuple[int, int, int, int]
    dtype: np.dtype[Any]
    bias: bool
    n_params: int
    compression: float
    def parameters(self) -> Dict[str, npt.NDArray[Any]]: ...
    def grads(self) -> Dict[str, npt.NDArray[Any]]: ...
    def zero_grad(self) -> None: ...
    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, int, int, int]: ...
    def forward(self, x: npt.ArrayLike) -> npt.NDArray[Any]: ...
    def __call__(self, x: npt.ArrayLike) -> npt.NDArray[Any]: ...
    def backward(self, dy: npt.ArrayLike, input_grad: bool = ...) -> Optional[npt.NDArray[Any]]: ...
    def to_dense(self) -> npt.NDArray[Any]: ...

class Conv2d(_Conv):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair, stride: _Pair = ...,
                 padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ..., dtype: Any = ...,
                 seed: int = ...) -> None: ...
    @classmethod
    def from_dense(cls, kernel: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *, stride: _Pair = ...,
                   padding: _Padding = ..., dilation: _Pair = ...) -> Conv2d: ...

class CPConv2d(_Conv):
    def __init__(self, in_channels: _Modes, out_channels: _Modes, kernel_size: _Pair, rank: int,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def rank(self) -> int: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, kernel: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *, stride: _Pair = ...,
                   padding: _Padding = ..., dilation: _Pair = ..., rank: Optional[int] = ...,
                   eps: Optional[float] = ..., in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   order: int = ..., n_iter_max: Optional[int] = ...) -> CPConv2d: ...

class TuckerConv2d(_Conv):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair, rank: _Rank,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: Any = ..., seed: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, int]: ...
    @classmethod
    def from_dense(cls, kernel: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *, stride: _Pair = ...,
                   padding: _Padding = ..., dilation: _Pair = ..., rank: Optional[_Rank] = ...,
                   eps: Optional[float] = ..., n_iter_max: Optional[int] = ...) -> TuckerConv2d: ...

class TTConv2d(_Conv):
    def __init__(self, in_channels: _Modes, out_channels: _Modes, kernel_size: _Pair, rank: _Rank,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, kernel: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *, stride: _Pair = ...,
                   padding: _Padding = ..., dilation: _Pair = ..., rank: Optional[int] = ...,
                   eps: Optional[float] = ..., in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   order: int = ...) -> TTConv2d: ...

__all__: list[str]
