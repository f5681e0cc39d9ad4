"""Type stubs for tnswift.nn."""

from collections.abc import Sequence
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

import os

from .activations import GELU as GELU, Identity as Identity, ReLU as ReLU, Sigmoid as Sigmoid, Tanh as Tanh
from .stages import Dropout as Dropout, Flatten as Flatten
from .activations import cross_entropy as cross_entropy, mse_loss as mse_loss
from .training import Sequential as Sequential, fit as fit
from .embedding import TTEmbedding as TTEmbedding
from .recurrent import TTGRU as TTGRU, TTLSTM as TTLSTM
from .attention import MultiLinearAttention as MultiLinearAttention, TTFeedForward as TTFeedForward
from .conv import Conv2d as Conv2d, CPConv2d as CPConv2d, TTConv2d as TTConv2d, TuckerConv2d as TuckerConv2d

_Modes = Union[int, Sequence[int]]
_Rank = Union[int, Sequence[int]]

class PlanReport:
    batch: int
    flops: float
    dense_flops: float
    reconstructs_weight: bool
    largest_intermediate: int
    parameter_bytes: int
    dense_bytes: int
    text: str

class _Layer:
    in_features: int
    out_features: int
    in_modes: Tuple[int, ...]
    out_modes: Tuple[int, ...]
    dtype: np.dtype[Any]
    bias: bool
    n_params: int
    compression: float
    def parameters(self) -> Dict[str, npt.NDArray[Any]]: ...
    def grads(self) -> Dict[str, npt.NDArray[Any]]: ...
    def zero_grad(self) -> None: ...
    def forward(self, x: npt.ArrayLike) -> npt.NDArray[Any]: ...
    def __call__(self, x: npt.ArrayLike) -> npt.NDArray[Any]: ...
    def backward(self, dy: npt.ArrayLike, input_grad: bool = ...) -> Optional[npt.NDArray[Any]]: ...
    def to_dense(self) -> npt.NDArray[Any]: ...
    def plan_report(self, batch: int) -> PlanReport: ...
    def save(self, path: Union[str, os.PathLike[str]]) -> None: ...
    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> Any: ...

class Linear(_Layer):
    def __init__(self, in_features: int, out_features: int, bias: bool = ..., dtype: Any = ...,
                 seed: int = ...) -> None: ...
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ...) -> Linear: ...

class TTLinear(_Layer):
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *,
                   in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   rank: Optional[int] = ..., eps: Optional[float] = ..., budget: Optional[int] = ...,
                   order: int = ...) -> TTLinear: ...

class CPLinear(_Layer):
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: int, bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def rank(self) -> int: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *,
                   in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   rank: Optional[int] = ..., eps: Optional[float] = ..., budget: Optional[int] = ...,
                   order: int = ..., n_iter_max: Optional[int] = ...,
                   tol: Optional[float] = ...) -> CPLinear: ...

class TuckerLinear(_Layer):
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *,
                   in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   rank: Optional[int] = ..., eps: Optional[float] = ..., budget: Optional[int] = ...,
                   order: int = ..., n_iter_max: Optional[int] = ...) -> TuckerLinear: ...

class TTTensorLinear(_Layer):
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: Any = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *,
                   in_modes: Optional[_Modes] = ..., out_modes: Optional[_Modes] = ...,
                   rank: Optional[int] = ..., eps: Optional[float] = ..., budget: Optional[int] = ...,
                   order: int = ...) -> TTTensorLinear: ...

class TCL(_Layer):
    def __init__(self, input_shape: _Modes, rank: _Rank, bias: bool = ..., dtype: Any = ...,
                 seed: int = ...) -> None: ...
    @property
    def input_shape(self) -> Tuple[int, ...]: ...
    @property
    def rank(self) -> Tuple[int, ...]: ...

class TRL:
    def __new__(cls, input_shape: _Modes, output_shape: _Modes, rank: _Rank,
                factorization: str = ..., bias: bool = ..., dtype: Any = ...,
                seed: int = ...) -> Union[CPLinear, TuckerLinear, TTTensorLinear]: ...  # type: ignore[misc]
    @classmethod
    def from_dense(cls, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = ..., *,
                   input_shape: _Modes, output_shape: _Modes, factorization: str = ...,
                   rank: Optional[_Rank] = ..., eps: Optional[float] = ..., budget: Optional[int] = ...,
                   **options: Any) -> Union[CPLinear, TuckerLinear, TTTensorLinear]: ...

class EinsumLayer(_Layer):
    equation: str
    param_shapes: list[Tuple[int, ...]]
    def __init__(self, equation: str, param_shapes: Sequence[Sequence[int]], bias: bool = ...,
                 dtype: Any = ..., seed: int = ...) -> None: ...

def load(path: Union[str, os.PathLike[str]]) -> Sequential: ...

__all__: list[str]
