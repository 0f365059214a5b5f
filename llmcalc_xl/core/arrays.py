"""Array primitives the physics is written with, beside numpy's operators.

``where`` is ``np.where`` (the same values, shape and dtype, in a new array), computed faster on
the core's long rows: numpy chooses row by row, which costs about ten times a copy when the
condition varies from row to row. Here a condition true (or false) in every row, as in a book
of one model or one device, copies the side chosen; otherwise the result starts as a copy of the
side most rows take and the other side's rows are written over it. Formula symbols (the
workbook) go to ``np.where`` unchanged, which hands them to their own ``__array_function__``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Below this many rows the shortcut's checks cost more than they save.
SHORTCUT_ROWS = 256

_PLAIN = (np.ndarray, np.generic, float, int, bool)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``np.where(cond, a, b)``, for a condition of many rows: copy the side most rows take,
    then write the other side's rows over it."""
    if not (type(cond) is np.ndarray and cond.dtype == np.bool_ and cond.ndim == 1 and cond.size >= SHORTCUT_ROWS
            and isinstance(a, _PLAIN) and isinstance(b, _PLAIN)
            and np.ndim(a) in (0, 1) and np.ndim(b) in (0, 1) and np.size(a) in (1, cond.size)
            and np.size(b) in (1, cond.size)):
        return np.where(cond, a, b)
    out = np.empty(cond.shape, dtype=np.result_type(a, b))
    true_rows = np.count_nonzero(cond)
    if 2 * true_rows > cond.size:  # most rows take a
        out[...] = a
        if true_rows < cond.size:
            rows = np.flatnonzero(~cond)
            out[rows] = np.take(b, rows) if np.size(b) > 1 else b
    else:
        out[...] = b
        if true_rows:
            rows = np.flatnonzero(cond)
            out[rows] = np.take(a, rows) if np.size(a) > 1 else a
    return out
