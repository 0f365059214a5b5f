"""Excel formula text from the core's own arithmetic.

The core's physics (``core/physics.py``) is written with numpy's operators and functions. Called
with numpy arrays it computes; called with :class:`Expr` symbols, which take part in numpy's
dispatch (``__array_ufunc__`` for ``np.maximum``, ``np.ceil``..., ``__array_function__`` for
``np.where``), the same code returns the formula that computes the same quantity in a
spreadsheet. The mapping, stated once:

=====================  ====================================================================
numpy                  spreadsheet
=====================  ====================================================================
``+ - * / **``         ``+ - * / ^`` (parenthesised by Excel's precedence, ``^`` always)
``< <= > >= == !=``    ``< <= > >= = <>``
``& | ~`` (booleans)   ``AND()``, ``OR()``, ``NOT()``
``np.where(c, a, b)``  ``IF(c,a,b)``
``np.maximum/minimum`` ``MAX()``, ``MIN()``
``np.log(x)``          ``LN(x)``
``np.floor(x)``        ``INT(x)``;  ``np.ceil(x)`` is ``-INT(-x)`` (negatives round as numpy does)
``np.isnan(x)``        ``NOT(ISNUMBER(x))``; ``np.isfinite(x)`` is ``ISNUMBER(x)``
``np.round(x, d)``     ``ROUND(x,d)`` (halves away from zero, numpy's to even)
NaN (no answer)        ``NA()``: propagates through arithmetic, ``MAX`` and ``MIN`` as NaN does
=====================  ====================================================================

A comparison with NaN is False in numpy (``!=``: True) but #N/A in a spreadsheet, and AND/OR
pass an error on. So each expression knows whether it may be #N/A (``na``), and a comparison
of such an expression is written ``IFERROR(a<b,FALSE)``: conditions are never #N/A, as in numpy.

A formula refers to another quantity by ``{name}`` (the row's cell of that Calc column or
input) and to a named cell of the Assumptions sheet by its name; the workbook turns the
templates into cell references.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

#: A formula symbol as the code that builds formulas holds it: an :class:`Expr` at run time, typed
#: Any because it goes through numpy's functions (``np.where``, ``np.maximum``...), whose type
#: annotations know only arrays; ``core/physics.py`` types its quantities Any for the same reason.
Symbol = Any

#: Precedence of what an expression's text is at its top (higher binds tighter).
COMPARE, CONCAT, ADD, MUL, POWER, NEGATE, ATOM = 1, 2, 3, 4, 5, 6, 9


class Expr:
    """A spreadsheet expression; numpy operations on it build bigger expressions."""

    __slots__ = ("text", "prec", "na", "numeric")
    __array_priority__ = 1000  # ndarray OP Expr defers to Expr

    def __init__(self, text: str, prec: int = ATOM, na: bool = False, numeric: bool = False):
        self.text = text
        self.prec = prec
        self.na = na  # may be #N/A (a NaN of the core)
        self.numeric = numeric  # a number or an error, never text, a boolean or an empty cell

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __bool__(self) -> bool:
        raise TypeError("A formula symbol has no truth value: write the condition with np.where, & and |.")

    __hash__ = object.__hash__

    # arithmetic
    def __add__(self, o): return _binary("+", ADD, self, o)
    def __radd__(self, o): return _binary("+", ADD, o, self)
    def __sub__(self, o): return _binary("-", ADD, self, o)
    def __rsub__(self, o): return _binary("-", ADD, o, self)
    def __mul__(self, o): return _binary("*", MUL, self, o)
    def __rmul__(self, o): return _binary("*", MUL, o, self)
    def __truediv__(self, o): return _binary("/", MUL, self, o)
    def __rtruediv__(self, o): return _binary("/", MUL, o, self)
    def __pow__(self, o): return _power(self, o)
    def __rpow__(self, o): return _power(o, self)
    def __neg__(self): return negate(self)
    def __pos__(self): return self

    # comparisons
    def __lt__(self, o): return _binary("<", COMPARE, self, o)
    def __le__(self, o): return _binary("<=", COMPARE, self, o)
    def __gt__(self, o): return _binary(">", COMPARE, self, o)
    def __ge__(self, o): return _binary(">=", COMPARE, self, o)
    def __eq__(self, o): return _binary("=", COMPARE, self, o)
    def __ne__(self, o): return _binary("<>", COMPARE, self, o)

    # booleans
    def __and__(self, o): return call("AND", self, o)
    def __rand__(self, o): return call("AND", o, self)
    def __or__(self, o): return call("OR", self, o)
    def __ror__(self, o): return call("OR", o, self)
    def __invert__(self): return call("NOT", self)

    # numpy dispatch
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        rule = UFUNCS.get(ufunc.__name__)
        if rule is None:
            raise TypeError(f"np.{ufunc.__name__} has no spreadsheet form: add it to symbolic.UFUNCS.")
        return rule(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        rule = FUNCTIONS.get(func.__name__)
        if rule is None:
            raise TypeError(f"np.{func.__name__} has no spreadsheet form: add it to symbolic.FUNCTIONS.")
        return rule(*args, **kwargs)


def literal(value: Any) -> Expr:
    """A Python or numpy value as formula text."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, np.ndarray):
        if value.ndim:
            raise TypeError("A formula symbol meets an array: the workbook computes one row at a time.")
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return Expr("TRUE" if value else "FALSE")
    if isinstance(value, str):
        return Expr('"' + value.replace('"', '""') + '"')
    x = float(value)
    if math.isnan(x):
        return Expr("NA()", na=True, numeric=True)
    if math.isinf(x):
        raise ValueError("An infinite constant has no spreadsheet form.")
    if x == int(x) and abs(x) < 1e15:
        text = str(int(x))
    else:
        text = repr(x).upper().replace("E+", "E")
    return Expr(text, NEGATE if text.startswith("-") else ATOM, numeric=True)


def _wrapped(e: Expr, above: int) -> str:
    return e.text if e.prec > above else f"({e.text})"


def _number(e: Expr) -> float | None:
    try:
        return float(e.text)
    except ValueError:
        return None


_FOLD = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / y,
         "<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
         "=": lambda x, y: x == y, "<>": lambda x, y: x != y}


def _binary(op: str, prec: int, a: Any, b: Any) -> Expr:
    a, b = literal(a), literal(b)
    x, y = _number(a), _number(b)
    if x is not None and y is not None and not (op == "/" and y == 0):  # folded as numpy computes it
        return literal(_FOLD[op](x, y))
    if (op in ("*", "/") and y == 1) or (op in ("+", "-") and y == 0):
        return a
    if (op == "*" and x == 1) or (op == "+" and x == 0):
        return b
    # left to right: the right side needs parentheses at equal precedence (a-(b-c)); comparisons
    # never chain
    left = a.text if a.prec >= prec and not (prec == COMPARE and a.prec == COMPARE) else f"({a.text})"
    out = Expr(f"{left}{op}{_wrapped(b, prec)}", prec, a.na or b.na, numeric=prec != COMPARE)
    if prec == COMPARE and out.na:  # NaN compares False (!= True) in numpy
        return call("IFERROR", out, op == "<>")
    return out


def _power(a: Any, b: Any) -> Expr:
    a, b = literal(a), literal(b)
    return Expr(f"{_wrapped(a, POWER)}^{_wrapped(b, POWER)}", POWER, a.na or b.na, numeric=True)


def negate(a: Any) -> Expr:
    a = literal(a)
    return Expr(f"-{_wrapped(a, POWER)}", NEGATE, a.na, numeric=True)


def call(name: str, *args: Any) -> Symbol:
    """A function call; nested AND/OR are flattened, NOT(NOT(x)) is x."""
    exprs = [literal(a) for a in args]
    if name == "NOT" and len(exprs) == 1:
        inner = exprs[0]
        if inner.text.startswith("NOT(") and _one_call(inner.text):
            return Expr(inner.text[4:-1], COMPARE, inner.na)
    if name in ("AND", "OR"):
        neutral, absorbing = ("TRUE", "FALSE") if name == "AND" else ("FALSE", "TRUE")
        if any(e.text == absorbing for e in exprs):
            return Expr(absorbing)
        exprs = [e for e in exprs if e.text != neutral] or [Expr(neutral)]
        if len(exprs) == 1:
            return exprs[0]
    parts = []
    for e in exprs:
        if name in ("AND", "OR") and e.text.startswith(name + "(") and _one_call(e.text):
            parts.append(e.text[len(name) + 1:-1])
        else:
            parts.append(e.text)
    if name in NEVER_NA:
        na = False
    elif name in MAY_FAIL:
        na = True
    elif name == "IFERROR":
        na = exprs[1].na
    elif name == "IF":
        na = exprs[1].na or exprs[2].na
    else:
        na = any(e.na for e in exprs)
    if name == "IF":
        # IF(ISNUMBER(x),x,y): the first branch is a number
        numeric = (exprs[1].numeric or exprs[0].text == f"ISNUMBER({exprs[1].text})") and exprs[2].numeric
    elif name == "IFERROR":
        numeric = exprs[0].numeric and exprs[1].numeric
    else:
        numeric = name in NUMERIC
    return Expr(f"{name}({','.join(parts)})", ATOM, na, numeric)


#: Functions whose result is never an error, and functions that may give one whatever their arguments.
NEVER_NA = ("ISNUMBER", "ISTEXT", "ISERROR", "ISNA", "ISLOGICAL")
MAY_FAIL = ("INDEX", "MATCH", "NA")
#: Functions that give a number (or an error).
NUMERIC = ("MAX", "MIN", "INT", "ABS", "ROUND", "MATCH", "NA", "SUM", "SUMIF", "COUNTIF")


def _one_call(text: str) -> bool:
    """Whether text is a single call f(...) (its first parenthesis closes at the end)."""
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def concat(*parts: Any) -> Symbol:
    """Text joined with ``&`` (Python strings are text literals)."""
    exprs = [literal(p) for p in parts]
    return Expr("&".join(e.text if e.prec >= CONCAT else f"({e.text})" for e in exprs), CONCAT, any(e.na for e in exprs))


def where(condition: Any, a: Any, b: Any) -> Expr:
    """IF(c,a,b). ``np.where(np.isnan(x), a, x)`` (x where it is a number, else a) is written
    IFERROR(x,a) where x is known to be a number or an error (``numeric``): the same, with x once."""
    condition, a, b = literal(condition), literal(a), literal(b)
    if condition.text == f"NOT(ISNUMBER({b.text}))" and b.numeric:
        return call("IFERROR", b, a)
    if a.text == b.text or condition.text in ("TRUE", "FALSE"):  # folded while the formula is written
        return a if condition.text != "FALSE" else b
    if condition.na:  # a NaN condition is False in numpy
        condition = call("IFERROR", condition, False)
    return call("IF", condition, a, b)


def is_number(x: Any) -> Symbol:
    return call("ISNUMBER", x)


# --- the primitives of the sheets' tables and notes: ranges, lookups, text -----------------------

def if_error(x: Any, fallback: Any) -> Symbol:
    """x, or ``fallback`` where x is an error (no answer)."""
    return call("IFERROR", x, fallback)


def or_blank(x: Any) -> Symbol:
    """x, or an empty cell's "" where x is an error: how a sheet shows no answer."""
    return if_error(x, "")


def total(cells: str) -> Symbol:
    """The sum of the numbers in a range (text and empty cells count nothing)."""
    return call("SUM", Expr(cells))


def largest(cells: str) -> Symbol:
    """The largest number in a range."""
    return call("MAX", Expr(cells))


def lookup(cells: str, position: Any) -> Symbol:
    """The cell at ``position`` (1 the first) of a one-column range."""
    return call("INDEX", Expr(cells), position)


def count_if(cells: str, criterion: str) -> Symbol:
    """How many cells of a range meet a criterion (``"yes"``, ``"no*"``: text starting with no)."""
    return call("COUNTIF", Expr(cells), criterion)


def sum_if(cells: str, criterion: str, summed: str) -> Symbol:
    """The sum of ``summed`` over the rows whose cell in ``cells`` meets the criterion."""
    return call("SUMIF", Expr(cells), criterion, Expr(summed))


def as_text(x: Any, number_format: str) -> Symbol:
    """A number as text in a number format (``"#,##0"``, ``"0%"``), for notes."""
    return call("TEXT", x, number_format)


def _round(a: Any, decimals: int = 0, out: Any = None) -> Expr:
    # ROUND rounds halves away from zero, numpy to even: the same but on exact halves
    if out is not None:
        raise TypeError("np.round(..., out=) has no spreadsheet form.")
    return call("ROUND", a, decimals)


UFUNCS: dict[str, Callable[..., Expr]] = {
    "add": lambda a, b: _binary("+", ADD, a, b),
    "subtract": lambda a, b: _binary("-", ADD, a, b),
    "multiply": lambda a, b: _binary("*", MUL, a, b),
    "divide": lambda a, b: _binary("/", MUL, a, b),
    "true_divide": lambda a, b: _binary("/", MUL, a, b),
    "power": _power,
    "negative": negate,
    "maximum": lambda a, b: call("MAX", a, b),
    "minimum": lambda a, b: call("MIN", a, b),
    "floor": lambda a: call("INT", a),
    "ceil": lambda a: negate(call("INT", negate(a))),
    "absolute": lambda a: call("ABS", a),
    "log": lambda a: call("LN", a),
    "less": lambda a, b: _binary("<", COMPARE, a, b),
    "less_equal": lambda a, b: _binary("<=", COMPARE, a, b),
    "greater": lambda a, b: _binary(">", COMPARE, a, b),
    "greater_equal": lambda a, b: _binary(">=", COMPARE, a, b),
    "equal": lambda a, b: _binary("=", COMPARE, a, b),
    "not_equal": lambda a, b: _binary("<>", COMPARE, a, b),
    "logical_and": lambda a, b: call("AND", a, b),
    "bitwise_and": lambda a, b: call("AND", a, b),
    "logical_or": lambda a, b: call("OR", a, b),
    "bitwise_or": lambda a, b: call("OR", a, b),
    "logical_not": lambda a: call("NOT", a),
    "invert": lambda a: call("NOT", a),
    "isnan": lambda a: call("NOT", is_number(a)),
    "isfinite": is_number,
}

FUNCTIONS: dict[str, Callable[..., Expr]] = {
    "where": where,
    "asarray": lambda a, dtype=None: a,
    "round": _round,
    "around": _round,
}
