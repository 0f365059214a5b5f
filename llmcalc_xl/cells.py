"""Spreadsheet cells in, spreadsheet cells out: the conversion the Excel functions share.

Excel hands a function single values (numbers as floats, empty cells as None, booleans,
text) or ranges (lists, or lists of lists). Every argument is turned into a 2-D grid, the
grids are broadcast against each other like numpy arrays (a 3x1 range with single cells
gives 3x1), the core runs once over all cells, and the answer comes back in the range's
shape. A cell whose inputs a user got wrong shows ``#LLM! <message>``; the others compute.
No xlwings here: this module is plain Python and tested as such.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InvalidValueError, LlmcalcError
from .notes import Note, notes_of

PREFIX = "#LLM! "


def message(text: str) -> str:
    """The text a cell shows for a problem the user can fix."""
    text = text.strip()
    return PREFIX + (text if text.endswith((".", "?", "!")) else text + ".")


def grid(value: Any) -> np.ndarray:
    """A cell, a 1-D range (taken as a column) or a 2-D range as a 2-D object array; an empty
    or ragged range is refused (InvalidValueError, shown in the cell)."""
    arr = _grid(value)
    if arr.size == 0:
        raise InvalidValueError("A range is empty. Give a cell, or a range with at least one cell")
    return arr


def _grid(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        arr = value.astype(object)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(row, (list, tuple)) for row in value):
            widths = {len(row) for row in value}
            if len(widths) != 1:
                raise InvalidValueError("A range must be rectangular, got rows of different lengths.")
            arr = np.empty((len(value), widths.pop()), dtype=object)
            for i, row in enumerate(value):
                arr[i, :] = list(row)
            return arr
        arr = np.empty((len(value), 1), dtype=object)
        arr[:, 0] = list(value)
        return arr
    else:
        arr = np.empty((1, 1), dtype=object)
        arr[0, 0] = value
        return arr
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    return arr


def broadcast(named: dict[str, Any]) -> tuple[tuple[int, int], dict[str, Any]]:
    """The common shape of all arguments and each argument as a flat column (or a single value)."""
    grids = {k: grid(v) for k, v in named.items()}
    try:
        shape = np.broadcast_shapes(*(g.shape for g in grids.values())) if grids else (1, 1)
    except ValueError:
        sizes = " and ".join(sorted({f"{r}x{c}" for r, c in (g.shape for g in grids.values()) if (r, c) != (1, 1)}))
        raise InvalidValueError(f"Ranges of different shapes ({sizes}) cannot be combined. Use ranges of "
                                "one shape, or single cells") from None
    flat = {}
    for k, g in grids.items():
        flat[k] = g[0, 0] if g.shape == (1, 1) else np.broadcast_to(g, shape).ravel()
    return shape, flat


def column(value: Any) -> np.ndarray:
    """A flat column or a single value as a 1-D object array (one element for a single value)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.astype(object)
    out = np.empty(1, dtype=object)
    out[0] = value
    return out


def shaped(values: list[Any], shape: tuple[int, int]) -> Any:
    """A single value for a 1x1 answer, else a list of lists in the range's shape."""
    if shape == (1, 1):
        return values[0]
    rows, cols = shape
    return [values[r * cols:(r + 1) * cols] for r in range(rows)]


def cell_value(value: Any, kind: str) -> Any:
    """A core number as the cell shows it: bool for yes/no answers, int for counts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if isinstance(value, float) and math.isinf(value):
        return "never"
    return float(value)


def relevant_note(notes: Sequence[Note], about_memory: bool) -> str | None:
    """The text of the note that explains a missing answer: the note that memory does not apply
    for memory questions, another note (does not fit, no price, no speed) for the others."""
    wanted = [n.text for n in notes if (n.kind == "not_applicable") == about_memory]
    return wanted[0] if wanted else None


def compute(run: Callable[[dict[str, Any]], dict[str, np.ndarray]], named: dict[str, Any],
            pick: Callable[[dict[str, np.ndarray], int], Any], no_answer: str, about_memory: bool = False) -> Any:
    """Broadcast ``named``, call ``run`` once on the flat columns, and build the answer.

    ``pick(result, i)`` gives the cell value of element i (None = no answer). Elements with an
    error show its message; elements without an answer show the note that explains it, or
    ``no_answer``.
    """
    try:
        shape, flat = broadcast(named)
        result = run(flat)
    except LlmcalcError as exc:
        return message(str(exc))
    n = shape[0] * shape[1]
    # a run over single values answers once; the range of another argument sets the size
    result = {k: (np.broadcast_to(v, (n,)) if isinstance(v, np.ndarray) and v.size == 1 else v)
              for k, v in result.items()}
    errors = np.broadcast_to(result["error"], (n,))
    # the core's notes: texts and, in a parallel column, their kinds (a result without notes has neither)
    texts = np.broadcast_to(result.get("notes", np.full(n, None, dtype=object)), (n,))
    kinds = np.broadcast_to(result.get("note_kinds", np.zeros(n, dtype=np.uint8)), (n,))
    values = []
    for i in range(n):
        if errors[i] is not None:
            values.append(message(errors[i]))
            continue
        value = pick(result, i)
        if value is None:
            values.append(message(relevant_note(notes_of(texts[i], kinds[i]), about_memory) or no_answer))
        else:
            values.append(value)
    return shaped(values, shape)
