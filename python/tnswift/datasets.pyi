"""Type stubs for tnswift.datasets."""

import os
from typing import Optional, Tuple, Union

import numpy as np

FASHION_MNIST_DIR: str

def read_idx(path: Union[str, os.PathLike[str]]) -> np.ndarray: ...
def fashion_mnist(directory: Optional[Union[str, os.PathLike[str]]] = ...) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
