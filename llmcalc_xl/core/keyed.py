"""Catalog values keyed by catalog entries: the catalog's arithmetic done once per entry, not per row.

A block of scenarios reads dozens of catalog fields (layers, heads, bits per weight, TFLOPS...)
and combines them among themselves (zero where missing, the KV heads a tensor-parallel group
stores, a device's peak at a precision's type) before anything that differs from row to row
enters. 65,536 rows name a few dozen models and devices: those terms are computed for each
combination of entries the block uses, and taken at each row's entries when a row column joins
them. Elementwise arithmetic gives the same numbers either way, to the bit.

A :class:`Keyed` value is a small array with one axis per catalog table (and one for the GPU
count), of size 1 where the value does not depend on it; the block's :class:`Space` holds each
row's position on each axis. numpy's operators, ufuncs and ``np.where`` on Keyed values and
single numbers give a Keyed value (numpy broadcasts the small arrays); once a row column enters,
or the combinations would outnumber a quarter of the rows, the Keyed operands are expanded to
rows (each once) and the ordinary arithmetic runs. The physics does not know: it is written with
numpy's operators, as for the workbook's formula symbols.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from .arrays import where as _where_rows

#: Blocks shorter than this compute row by row (the bookkeeping would cost more than it saves).
MIN_ROWS = 4096

_SCALARS = (float, int, bool, np.generic)


class Space:
    """Each row's position on each axis (a catalog table's entries used in the block, or the GPU
    counts); an axis added later goes first, so that the values made before broadcast over it."""

    def __init__(self, n: int):
        self.n = n
        self.limit = n // 4
        self.codes: list[np.ndarray] = []  # one per axis, outermost first: positions 0..size-1
        self._flat: dict[tuple, np.ndarray] = {}
        self._narrowed: dict[tuple, tuple[np.ndarray, Space]] = {}

    def narrow(self, index: np.ndarray) -> "Space":
        """The rows at ``index`` as a space of their own, with the axes there are now (the same
        space for the same index array, so that values narrowed alike combine)."""
        key = (id(index), len(self.codes))
        hit = self._narrowed.get(key)
        if hit is not None and hit[0] is index:
            return hit[1]
        sub = Space(len(index))
        sub.codes = [np.take(codes, index) for codes in self.codes]
        self._narrowed[key] = (index, sub)
        return sub

    def axis(self, positions: np.ndarray, size: int) -> tuple[int, np.ndarray]:
        """Add an axis for row positions into a table of ``size`` entries (-1: none, which takes
        the padding entry ``size``). Returns the axis's number of axes at the time it was added
        (its place counts from the end) and the table positions its codes stand for."""
        padded = np.where(positions < 0, size, positions)
        present = np.flatnonzero(np.bincount(padded, minlength=size + 1))
        remap = np.zeros(size + 1, dtype=np.intp)
        remap[present] = np.arange(len(present))
        self.codes.insert(0, np.take(remap, padded))
        return len(self.codes), present

    def rows(self, values: np.ndarray) -> np.ndarray:
        """A new row array of a Keyed value's small array."""
        offset = len(self.codes) - values.ndim
        axes = [i for i, size in enumerate(values.shape) if size > 1]
        flat = values.reshape(-1)
        if not axes:
            return np.full(self.n, flat[0], dtype=values.dtype)
        if len(axes) == 1:
            return np.take(flat, self.codes[offset + axes[0]])
        key = (len(self.codes), values.shape)
        index = self._flat.get(key)
        if index is None:
            last = axes[-1]  # C order: the last axis varies fastest
            index, stride = self.codes[offset + last], values.shape[last]
            for i in reversed(axes[:-1]):
                index = index + self.codes[offset + i] * stride
                stride *= values.shape[i]
            self._flat[key] = index
        return np.take(flat, index)


class Axis:
    """A catalog table's axis in a Space: columns of the table as Keyed values."""

    def __init__(self, space: Space, positions: np.ndarray, size: int):
        self.space = space
        self._depth, self._present = space.axis(positions, size)
        self._made: dict[tuple, tuple[np.ndarray, Keyed]] = {}

    def values(self, column: np.ndarray, missing: Any) -> "Keyed":
        """The column at each row's entry (``missing`` where none); a column read twice is one
        value (expanded to rows once)."""
        key = (id(column), repr(missing))
        made = self._made.get(key)
        if made is not None and made[0] is column:
            return made[1]
        padded = np.append(column, np.asarray([missing], dtype=column.dtype))
        small = np.take(padded, self._present)
        value = Keyed(small.reshape((len(small),) + (1,) * (self._depth - 1)), self.space)
        self._made[key] = (column, value)
        return value


def constant(space: Space, value: Any, dtype: Any = None) -> "Keyed":
    """One value for every row."""
    return Keyed(np.full((1,) * len(space.codes), value, dtype=dtype), space)


class Keyed(NDArrayOperatorsMixin):
    """A column of a block, held as its values per combination of catalog entries (see the module)."""

    ndim = 1

    def __init__(self, values: np.ndarray, space: Space):
        self.values, self.space = values, space
        self._rows: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int]:
        return (self.space.n,)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def __len__(self) -> int:
        return self.space.n

    def rows(self) -> np.ndarray:
        """The value of every row (computed once; not to be written to)."""
        if self._rows is None:
            self._rows = self.space.rows(self.values)
        return self._rows

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = self.rows()
        return rows if dtype is None else rows.astype(dtype, copy=False)

    def __getitem__(self, index: Any) -> Any:
        return self.rows()[index]

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs and ufunc.nout == 1:
            small = _small(self.space, inputs)
            if small is not None:
                return Keyed(ufunc(*small), self.space)
            return ufunc(*_expand(inputs))  # a row column among them: every operand as rows
        return getattr(ufunc, method)(*_expand(inputs), **{k: _expand1(v) for k, v in kwargs.items()})

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func is np.where and len(args) == 3 and not kwargs:
            return where(*args)
        if func is np.ndim:
            return 1
        if func is np.shape:
            return (self.space.n,)
        return func(*_expand(args), **{k: _expand1(v) for k, v in kwargs.items()})


def _small(space: Space, inputs: tuple) -> list | None:
    """The operands as small arrays and numbers, or None where a row column (or another block's
    value) is among them or the result would be too large."""
    small: list[Any] = []
    shape: tuple[int, ...] | None = None
    size = 1
    mixed = False  # operands of more than one shape: the size of their broadcast is computed
    for x in inputs:
        if type(x) is Keyed:
            if x.space is not space:
                return None
            values = x.values
            small.append(values)
            if shape is None:
                shape, size = values.shape, values.size
            elif values.shape != shape:
                mixed = True
                other = values.shape  # each axis is 1 or its size: the larger, aligned at the end
                if len(other) > len(shape):
                    shape, other = other, shape
                lead = len(shape) - len(other)
                shape = shape[:lead] + tuple(max(a, b) for a, b in zip(shape[lead:], other))
        elif isinstance(x, _SCALARS) or (type(x) is np.ndarray and x.ndim == 0):
            small.append(x)
        else:
            return None
    if mixed:
        size = math.prod(shape or ())
    return small if size <= space.limit else None


def _expand1(x: Any) -> Any:
    if type(x) is Keyed:
        return x.rows()
    if isinstance(x, (list, tuple)):
        return type(x)(_expand1(v) for v in x)
    return x


def _expand(args: tuple) -> list:
    return [_expand1(x) for x in args]


def where(cond: Any, a: Any, b: Any) -> Any:
    """``np.where`` where a Keyed value is among the operands."""
    space = next(x.space for x in (cond, a, b) if isinstance(x, Keyed))
    small = _small(space, (cond, a, b))
    if small is not None:
        return Keyed(np.where(*small), space)
    return _where_rows(*_expand((cond, a, b)))


def take(value: Any, index: np.ndarray) -> Any:
    """``np.take(value, index)`` for an index of rows; a Keyed value stays Keyed, on the space of
    those rows."""
    if isinstance(value, Keyed) and value.values.ndim <= len(value.space.codes):
        return Keyed(value.values, value.space.narrow(index))
    return np.take(value, index)


def rows(value: Any) -> Any:
    """A Keyed value as a new row array; anything else as it is."""
    return value.space.rows(value.values) if isinstance(value, Keyed) else value
