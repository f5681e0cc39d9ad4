from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

class TTEmbedding:
    num_embeddings: int
    embedding_dim: int
    padding_idx: Optional[int]
    row_modes: Tuple[int, ...]
    col_modes: Tuple[int, ...]
    ranks: Tuple[int, ...]
    dtype: np.dtype
    n_params: int
    compression: float
    mode: Optional[str]
    def __init__(self, num_embeddings: int, embedding_dim: int, rank: Union[int, Sequence[int]] = 8,
                 n_modes: int = 3, row_modes: Optional[Sequence[int]] = None,
                 col_modes: Optional[Sequence[int]] = None, padding_idx: Optional[int] = None,
                 mode: Optional[str] = None, std: float = 1.0, dtype: Any = ..., seed: int = 0) -> None: ...
    @classmethod
    def from_dense(cls, table: Any, rank: Optional[int] = None, eps: Optional[float] = None, n_modes: int = 3,
                   row_modes: Optional[Sequence[int]] = None, col_modes: Optional[Sequence[int]] = None,
                   padding_idx: Optional[int] = None, mode: Optional[str] = None) -> "TTEmbedding": ...
    def forward(self, indices: Any, offsets: Any = None) -> np.ndarray: ...
    def __call__(self, indices: Any, offsets: Any = None) -> np.ndarray: ...
    def backward(self, dy: Any) -> None: ...
    def to_dense(self) -> np.ndarray: ...
    def parameters(self) -> Dict[str, np.ndarray]: ...
    def grads(self) -> Dict[str, np.ndarray]: ...
    def zero_grad(self) -> None: ...
