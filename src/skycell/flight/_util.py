"""Small helpers of the flight package."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def clip(a: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> NDArray[Any]:
    """``np.clip`` without its per-call overhead (the simulator's hot loop calls it often)."""
    return np.asarray(np.minimum(np.maximum(a, lo), hi))
