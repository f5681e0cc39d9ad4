from typing import Optional, Sequence

import numpy as np
import numpy.typing as npt

def ncon(
    tensors: Sequence[npt.ArrayLike],
    network: Sequence[Sequence[int]],
    con_order: Optional[Sequence[int]] = ...,
    out_order: Optional[Sequence[int]] = ...,
) -> np.ndarray: ...
