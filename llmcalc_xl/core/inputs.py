"""Turning what a user gives (scalars, lists, numpy arrays, pandas columns) into checked
arrays. Every problem becomes a message for its row: ``<option> must be <rule>, got <value>``.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np

from ..errors import InvalidValueError, LlmcalcError

#: None as an array operand (a 0-d object array): ``np.equal(column, NONE)`` is where a column
#: holds None, ``np.where(mask, NONE, column)`` empties cells. numpy compares and fills the same
#: with a bare None, but its type annotations accept only arrays and scalars.
NONE = np.array(None, dtype=object)


class RowErrors:
    """The first error of each row: its message (None where the row is fine) and the exception
    class that ``estimate`` raises for it."""

    def __init__(self, n: int):
        self.n = n
        self.messages = np.full(n, None, dtype=object)
        self.kinds = np.full(n, None, dtype=object)
        self._bad = np.zeros(n, dtype=bool)  # where messages is not None (kept, not compared per call)

    def add(self, mask: np.ndarray | bool, message: Any, kind: type[LlmcalcError] = InvalidValueError) -> None:
        """Record ``message`` (text, or an array of texts) of class ``kind`` for rows in ``mask``
        without one yet."""
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), (self.n,))
        todo = mask & ~self._bad
        if not todo.any():
            return
        if isinstance(message, np.ndarray):
            texts = np.broadcast_to(message, (self.n,))[todo]
            self.messages[todo] = texts
            self._bad[todo] = ~np.equal(texts, NONE)
        else:
            self.messages[todo] = message
            self._bad[todo] = message is not None
        self.kinds[todo] = kind

    def first(self) -> LlmcalcError:
        """The first bad row's error, as its exception."""
        i = int(np.argmax(self.bad))
        return self.kinds[i](self.messages[i])

    @property
    def bad(self) -> np.ndarray:
        return self._bad.copy()


def length_of(value: Any) -> int | None:
    """Length of a column-like value, None for a scalar."""
    if value is None or isinstance(value, (str, bytes, numbers.Number, bool)):
        return None
    if hasattr(value, "shape"):
        return None if np.ndim(value) == 0 else int(np.shape(value)[0])
    if isinstance(value, (list, tuple)):
        return len(value)
    return None


def column_length(given: dict[str, Any]) -> int:
    """The number of rows of the options ``given`` (name -> value): the length their columns share, 1
    where all are single values. Columns of different lengths are an error naming them."""
    lengths = {k: length_of(v) for k, v in given.items()}
    sizes = {n for n in lengths.values() if n is not None}
    if len(sizes) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items() if n is not None)
        raise InvalidValueError(f"Columns must have the same length, got {detail}. "
                                "Give single values or columns of one length.")
    return sizes.pop() if sizes else 1


def _text_of(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 40 else text[:37] + "..."


def scalar_to_float(name: str, value: Any, word: str = "") -> tuple[float, str | None]:
    """(number, error). None and NaN mean "not given". ``word``: what else the option takes ("max"),
    named in the message."""
    number = "a number" + (f" or {word}" if word else "")
    if value is None:
        return math.nan, None
    if isinstance(value, bool):
        return math.nan, f"{name} must be {number}, got {value!r}"
    if isinstance(value, numbers.Real):
        return float(value), None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped == "":
            return math.nan, None
        try:
            return float(stripped), None
        except ValueError:
            pass
        if re.fullmatch(r"[0-9]{1,3}([,'][0-9]{3})+(\.[0-9]*)?", stripped):
            return math.nan, (f"{name} must be a plain number, got '{value}'. Write it without "
                              f"thousands separators, e.g. {stripped.replace(',', '').replace(chr(39), '')}")
        if re.fullmatch(r"[0-9]*,[0-9]+", stripped):  # a decimal comma: "1,85" is 1.85, not 185
            return math.nan, f"{name} must use a decimal point, got '{value}'. Write {stripped.replace(',', '.')}"
        return math.nan, f"{name} must be {number}, got {_text_of(value)}"
    return math.nan, f"{name} must be {number}, got {_text_of(value)}"


def numbers_column(name: str, value: Any, n: int, errors: RowErrors, word: str = "") -> np.ndarray:
    """A float array of length n; NaN where not given. Non-numbers are row errors (``word``: what
    else the option takes, named in them; the caller has emptied its cells)."""
    if length_of(value) is None:
        number, err = scalar_to_float(name, value, word)
        if err:
            errors.add(True, err)
        return np.broadcast_to(np.float64(number), (n,))
    arr = np.asarray(value)
    if arr.dtype.kind in "iuf":
        return arr.astype(float, copy=False)
    if arr.dtype.kind == "b":
        errors.add(np.ones(n, bool), f"{name} must be a number{f' or {word}' if word else ''}, got a true/false value")
        return np.full(n, math.nan)
    if arr.dtype == object:
        try:  # plain numbers in Python objects (a list of ints): convert in one go
            if not any(isinstance(v, (str, bool, np.bool_)) or v is None for v in arr.tolist()):
                return arr.astype(float)
        except (TypeError, ValueError):
            pass
    out = np.empty(n, dtype=float)
    for i, v in enumerate(arr.tolist()):
        number, err = scalar_to_float(name, v, word)
        out[i] = number
        if err:
            mask = np.zeros(n, bool)
            mask[i] = True
            errors.add(mask, err)
    return out


def check_rule(name: str, values: np.ndarray, errors: RowErrors, *, minimum: float | None = None,
               above: float | None = None, maximum: float | None = None, whole: bool = False,
               word: str = "") -> None:
    """Record a message for each given (non-NaN) value that breaks the rule (``word``: what else the
    option takes, named in the message: "batch must be >= 1 or max, got -1")."""
    given = ~np.isnan(values)
    if not given.any():
        return
    checks = []
    if minimum is not None:
        checks.append((values < minimum, f">= {minimum:g}"))
    if above is not None:
        checks.append((values <= above, f"> {above:g}"))
    if maximum is not None:
        checks.append((values > maximum, f"<= {maximum:g}"))
    if whole:
        checks.append((np.isfinite(values) & (values != np.floor(values)), "a whole number"))
    checks.append((np.isinf(values), "a finite number"))
    for bad, rule in checks:
        bad = bad & given
        if bad.any():
            errors.add(bad, _messages(name, rule + (f" or {word}" if word else ""), values, bad))


def _messages(name: str, rule: str, values: np.ndarray, bad: np.ndarray) -> np.ndarray | str:
    uniq = np.unique(values[bad])
    if len(uniq) == 1:
        return f"{name} must be {rule}, got {uniq[0]:g}"
    out = np.full(len(values), None, dtype=object)
    for v in uniq:
        out[bad & (values == v)] = f"{name} must be {rule}, got {v:g}"
    return out


def text_column(value: Any) -> tuple[np.ndarray | None, Any]:
    """(array, None) for a column, or (None, scalar) for a single value."""
    if length_of(value) is None:
        if isinstance(value, float) and math.isnan(value):
            value = None
        return None, value
    arr = np.asarray(value, dtype=object)
    return arr, None
