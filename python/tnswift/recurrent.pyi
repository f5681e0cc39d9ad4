from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

_Modes = Union[int, Sequence[int]]
_Rank = Union[int, Sequence[int]]

class _TTRecurrent:
    input_size: int
    hidden_size: int
    input_modes: Tuple[int, ...]
    output_modes: Tuple[int, ...]
    ranks: Tuple[int, ...]
    dtype: np.dtype
    n_params: int
    compression: float
    def __init__(self, input_size: _Modes, hidden_size: int, rank: _Rank,
                 output_modes: Optional[Sequence[int]] = None, order: int = 3, dtype: Any = ...,
                 seed: int = 0) -> None: ...
    def parameters(self) -> Dict[str, np.ndarray]: ...
    def grads(self) -> Dict[str, np.ndarray]: ...
    def zero_grad(self) -> None: ...

class TTLSTM(_TTRecurrent):
    def forward(self, x: Any, h0: Any = None, c0: Any = None) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]: ...
    def __call__(self, x: Any, h0: Any = None, c0: Any = None) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]: ...
    def backward(self, d_output: Any, d_h_n: Any = None, d_c_n: Any = None, input_grad: bool = True,
                 initial_state_grads: bool = False) -> Any: ...

class TTGRU(_TTRecurrent):
    def forward(self, x: Any, h0: Any = None) -> Tuple[np.ndarray, np.ndarray]: ...
    def __call__(self, x: Any, h0: Any = None) -> Tuple[np.ndarray, np.ndarray]: ...
    def backward(self, d_output: Any, d_h_n: Any = None, input_grad: bool = True,
                 initial_state_grads: bool = False) -> Any: ...
