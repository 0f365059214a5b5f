"""The values of a workbook's formulas, computed as a spreadsheet computes them.

A quote written by `llmcalc-xl build` stores, beside every formula, the value it computes,
so that a viewer that does not recalculate (a mail preview, a phone) shows the numbers and
`llmcalc-xl export` reads them. This module is that calculation; it evaluates whatever
formula text the workbook holds, not a copy of the core's arithmetic.

- A formula is parsed once (openpyxl's ``Tokenizer``, then a tree with Excel's operator
  precedence). A run of cells in one column holding the same formula moved down row by row
  (a shared formula) is computed for all its rows at once with numpy.
- Runs and single formula cells are computed in dependency order.
- Values follow Excel: numbers, text, booleans, errors and blank cells. A blank is 0 in
  arithmetic and "" in a text comparison; text compares without regard to case and sorts
  after numbers; errors propagate; IF and IFERROR keep only the branch they choose.
  Rounding functions (INT, ROUNDUP, ...) first round to 15 significant digits, as
  spreadsheets do, so that 2.9999999999999996 counts as 3.
- Only the functions in ``FUNCTIONS`` are known. Any other raises ``UnknownFunction``; a
  caller that prefers to leave such cells without a value passes ``strict=False``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, cast

import numpy as np

# --- values ---------------------------------------------------------------------------------------

BLANK, NUM, TEXT, BOOL, ERROR = 0, 1, 2, 3, 4
#: Error values; a cell holding one keeps its code (index) in ``num``.
ERRORS = ("", "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
NULL_E, DIV0, VALUE_E, REF_E, NAME_E, NUM_E, NA = range(1, 8)
ERROR_CODE = {e: i for i, e in enumerate(ERRORS) if e}


class FormulaError(ValueError):
    """A formula this module cannot compute."""


class UnknownFunction(FormulaError):
    pass


class Unsupported(FormulaError):
    pass


class V:
    """n cells: a kind each (an int when all share it), numbers (booleans as 0/1, errors as
    their code), text (where the kind is TEXT), and whether they came straight from cells."""

    __slots__ = ("kind", "num", "text", "ref")

    def __init__(self, kind, num: np.ndarray, text: np.ndarray | None = None, ref: bool = False):
        self.kind = kind
        self.num = num
        self.text = text
        self.ref = ref

    def __len__(self) -> int:
        return len(self.num)

    def kinds(self) -> np.ndarray:
        if isinstance(self.kind, np.ndarray):
            return self.kind
        return np.full(len(self.num), self.kind, dtype=np.int8)

    def is_(self, kind: int) -> np.ndarray | bool:
        """Where the cells are of this kind (a bool when all cells share one kind)."""
        if isinstance(self.kind, np.ndarray):
            return self.kind == kind
        return self.kind == kind

    def texts(self) -> np.ndarray:
        if self.text is None:
            return np.full(len(self.num), None, dtype=object)
        return self.text

    def take(self, index) -> V:
        kind = self.kind[index] if isinstance(self.kind, np.ndarray) else self.kind
        return V(kind, self.num[index], None if self.text is None else self.text[index], self.ref)

    def python(self, i: int) -> Any:
        """Cell i as a Python value: float, str, bool, None (blank) or an error string."""
        k = int(self.kind[i]) if isinstance(self.kind, np.ndarray) else self.kind
        if k == NUM:
            return float(self.num[i])
        if k == TEXT:
            return self.texts()[i]
        if k == BOOL:
            return bool(self.num[i])
        if k == ERROR:
            return ERRORS[int(self.num[i])]
        return None


def numbers(num: np.ndarray, err: np.ndarray | None = None) -> V:
    """Numbers, with errors where err is non-zero; inf and nan become #NUM!."""
    bad = ~np.isfinite(num)
    if bad.any():
        err = np.where(bad, NUM_E, 0).astype(np.int8) if err is None else np.where((err == 0) & bad, NUM_E, err)
    if err is None or not err.any():
        return V(NUM, num)
    kind = np.where(err > 0, ERROR, NUM).astype(np.int8)
    return V(kind, np.where(err > 0, err, num).astype(float))


def booleans(value: np.ndarray, err: np.ndarray | None = None) -> V:
    num = value.astype(float)
    if err is None or not err.any():
        return V(BOOL, num)
    return V(np.where(err > 0, ERROR, BOOL).astype(np.int8), np.where(err > 0, err, num))


def texts(values: list | np.ndarray, err: np.ndarray | None = None) -> V:
    n = len(values)
    text = np.empty(n, dtype=object)
    text[:] = values
    if err is None or not err.any():
        return V(TEXT, np.zeros(n), text)
    text[err > 0] = None
    return V(np.where(err > 0, ERROR, TEXT).astype(np.int8), np.where(err > 0, err, 0).astype(float), text)


def errors(code: int, n: int) -> V:
    return V(ERROR, np.full(n, float(code)))


class CellError(str):
    """An error value held by a cell ("#N/A"), as opposed to text that reads like one."""


def python_values(values: list) -> V:
    """Cells from Python values: numbers, str, bool, None (blank), CellError."""
    n = len(values)
    kind = np.empty(n, dtype=np.int8)
    num = np.zeros(n)
    text = None
    for i, v in enumerate(values):
        if v is None:
            kind[i] = BLANK
        elif isinstance(v, (bool, np.bool_)):
            kind[i], num[i] = BOOL, float(v)
        elif isinstance(v, str):
            if isinstance(v, CellError):
                kind[i], num[i] = ERROR, ERROR_CODE.get(v, NA)
            else:
                if text is None:
                    text = np.full(n, None, dtype=object)
                kind[i], text[i] = TEXT, v
        else:
            x = float(v)
            if math.isfinite(x):
                kind[i], num[i] = NUM, x
            else:
                kind[i] = BLANK
    first = kind[0] if n else BLANK
    return V(int(first) if n and (kind == first).all() else kind, num, text)


def constant(value: Any, n: int) -> V:
    if isinstance(value, bool):
        return V(BOOL, np.full(n, float(value)))
    if isinstance(value, str):
        return V(TEXT, np.zeros(n), np.full(n, value, dtype=object))
    return V(NUM, np.full(n, float(value)))


def first_error(*errs: np.ndarray | None) -> np.ndarray | None:
    out = None
    for e in errs:
        if e is None:
            continue
        out = e if out is None else np.where(out > 0, out, e)
    return out


def _parse_number(text: str) -> float | None:
    s = text.strip()
    if not s:
        return None
    pct = s.endswith("%")
    try:
        x = float(s[:-1] if pct else s)
    except ValueError:
        return None
    if not math.isfinite(x) or s.lower().lstrip("+-").startswith(("inf", "nan")):
        return None
    return x / 100 if pct else x


def to_numbers(v: V) -> tuple[np.ndarray, np.ndarray | None]:
    """Numbers for arithmetic: blank 0, booleans 0/1, text that reads as a number; else #VALUE!."""
    if not isinstance(v.kind, np.ndarray):
        if v.kind in (NUM, BOOL):
            return v.num, None
        if v.kind == BLANK:
            return np.zeros(len(v)), None
    kind = v.kinds()
    num = np.where(kind == BLANK, 0.0, v.num)
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    for i in np.flatnonzero(kind == TEXT):
        x = _parse_number(v.texts()[i])
        if x is None:
            err[i] = VALUE_E
        else:
            num[i] = x
    return num, (err if err.any() else None)


def to_booleans(v: V) -> tuple[np.ndarray, np.ndarray | None]:
    """Truth values: numbers non-zero, blank FALSE, text "TRUE"/"FALSE"; other text #VALUE!."""
    if not isinstance(v.kind, np.ndarray) and v.kind in (NUM, BOOL, BLANK):
        return v.num != 0 if v.kind != BLANK else np.zeros(len(v), dtype=bool), None
    kind = v.kinds()
    value = (v.num != 0) & ((kind == NUM) | (kind == BOOL))
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    for i in np.flatnonzero(kind == TEXT):
        t = v.texts()[i].strip().upper()
        if t in ("TRUE", "FALSE"):
            value[i] = t == "TRUE"
        else:
            err[i] = VALUE_E
    return value, (err if err.any() else None)


def general(x: float) -> str:
    """A number as text in the General format (up to 15 significant digits)."""
    if x == 0:
        return "0"
    if abs(x) < 1e15 and x == int(x):
        return str(int(x))
    mantissa, exponent = f"{x:.14e}".split("e")
    e = int(exponent)
    digits = mantissa.replace("-", "").replace(".", "").rstrip("0") or "0"
    sign = "-" if x < 0 else ""
    if e >= 15 or e < -9:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}E{'+' if e >= 0 else '-'}{abs(e):02d}"
    if e < 0:
        return f"{sign}0.{'0' * (-e - 1)}{digits}"
    whole, frac = digits[:e + 1].ljust(e + 1, "0"), digits[e + 1:]
    return f"{sign}{whole}{'.' + frac if frac else ''}"


def to_texts(v: V) -> tuple[list, np.ndarray | None]:
    kind = v.kinds()
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    out = []
    text = v.texts()
    for i in range(len(v)):
        k = kind[i]
        if k == TEXT:
            out.append(text[i])
        elif k == NUM:
            out.append(general(float(v.num[i])))
        elif k == BOOL:
            out.append("TRUE" if v.num[i] else "FALSE")
        else:
            out.append("")
    return out, (err if err.any() else None)


def approx15(x: np.ndarray) -> np.ndarray:
    """Round to 15 significant digits, as spreadsheets do before INT and ROUND*."""
    with np.errstate(all="ignore"):
        ax = np.abs(x)
        e = np.floor(np.log10(np.where(ax > 0, ax, 1.0)))
        scale = 10.0 ** (14 - e)
        r = np.round(x * scale) / scale
    return np.where(np.isfinite(r) & (ax > 0) & (ax < 1e300), r, x)


def where(cond: np.ndarray, a: V, b: V) -> V:
    n = len(cond)
    if not isinstance(a.kind, np.ndarray) and not isinstance(b.kind, np.ndarray) and a.kind == b.kind:
        kind = a.kind
    else:
        kind = np.where(cond, a.kinds(), b.kinds()).astype(np.int8)
    num = np.where(cond, a.num, b.num)
    text = None
    if a.text is not None or b.text is not None:
        text = np.where(cond, a.texts(), b.texts()) if n else np.empty(0, dtype=object)
    return V(kind, num, text, a.ref and b.ref)


# --- parsing -------------------------------------------------------------------------------------

_REF = re.compile(r"^(?:(?:'((?:[^']|'')+)'|([^'!:]+))!)?(\$?)([A-Za-z]{1,3})(\$?)(\d+)"
                  r"(?::(\$?)([A-Za-z]{1,3})(\$?)(\d+))?$")
_NAME = re.compile(r"^[A-Za-z_\\][A-Za-z0-9_.\\]*$")

#: Binary operators: precedence (higher binds tighter), as Excel orders them.
_BINARY = {"^": 5, "*": 4, "/": 4, "+": 3, "-": 3, "&": 2, "=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1}


def column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def parse_ref(text: str):
    """('ref', sheet, r1, r1_abs, c1, r2, r2_abs, c2) for an A1 reference, else None."""
    m = _REF.match(text)
    if not m:
        return None
    quoted, plain, _, c1, r1abs, r1, _, c2, r2abs, r2 = m.groups()
    sheet = quoted.replace("''", "'") if quoted else plain
    c1i, r1i = column_index(c1), int(r1)
    if c2 is None:
        return ("ref", sheet, r1i, bool(r1abs), c1i, r1i, bool(r1abs), c1i)
    c2i, r2i = column_index(c2), int(r2)
    return ("ref", sheet, min(r1i, r2i), bool(r1abs), min(c1i, c2i), max(r1i, r2i), bool(r2abs), max(c1i, c2i))


class _Parser:
    def __init__(self, formula: str):
        from openpyxl.formula.tokenizer import Tokenizer

        try:
            items = Tokenizer(formula).items
        except Exception as exc:  # openpyxl raises TokenizerError on malformed text
            raise FormulaError(f"cannot read formula {formula!r}: {exc}") from None
        self.tokens = [t for t in items if t.type != "WHITE-SPACE"]
        self.i = 0
        self.formula = formula

    def fail(self, what: str):
        raise FormulaError(f"{what} in formula {self.formula!r}")

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self):
        tok = self.peek()
        if tok is None:
            self.fail("unexpected end")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr(0)
        if self.peek() is not None:
            self.fail(f"unexpected {self.peek().value!r}")
        return node

    def expr(self, min_prec: int):
        lhs = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok.type != "OPERATOR-INFIX":
                return lhs
            prec = _BINARY.get(tok.value)
            if prec is None:
                raise Unsupported(f"operator {tok.value!r} in formula {self.formula!r}")
            if prec < min_prec:
                return lhs
            self.i += 1
            lhs = ("op", tok.value, lhs, self.expr(prec + 1))

    def unary(self):
        tok = self.peek()
        if tok is not None and tok.type == "OPERATOR-PREFIX":
            self.i += 1
            operand = self.unary()
            return ("neg", operand) if tok.value == "-" else operand
        node = self.primary()
        while (tok := self.peek()) is not None and tok.type == "OPERATOR-POSTFIX":
            self.i += 1
            node = ("pct", node)
        return node

    def primary(self):
        tok = self.next()
        if tok.type == "OPERAND":
            if tok.subtype == "NUMBER":
                return ("lit", float(tok.value))
            if tok.subtype == "TEXT":
                return ("lit", tok.value[1:-1].replace('""', '"'))
            if tok.subtype == "LOGICAL":
                return ("lit", tok.value.upper() == "TRUE")
            if tok.subtype == "ERROR":
                if tok.value not in ERROR_CODE:
                    self.fail(f"unknown error value {tok.value!r}")
                return ("err", ERROR_CODE[tok.value])
            if tok.subtype == "RANGE":
                ref = parse_ref(tok.value)
                if ref is not None:
                    return ref
                if _NAME.match(tok.value):
                    return ("name", tok.value.lower())
                raise Unsupported(f"reference {tok.value!r} in formula {self.formula!r}")
            self.fail(f"operand {tok.value!r}")
        if tok.type == "FUNC" and tok.subtype == "OPEN":
            name = tok.value[:-1].upper()
            if name.startswith("_XLFN."):
                name = name[6:]
            if name not in FUNCTIONS:
                raise UnknownFunction(f"function {name} in formula {self.formula!r} is not known")
            args = []
            if self.peek() is not None and self.peek().type == "FUNC" and self.peek().subtype == "CLOSE":
                self.i += 1
                return ("fn", name, ())
            while True:
                tok = self.peek()
                if tok is not None and (tok.type == "SEP" and tok.subtype == "ARG"
                                        or tok.type == "FUNC" and tok.subtype == "CLOSE"):
                    args.append(("missing",))
                else:
                    args.append(self.expr(0))
                tok = self.next()
                if tok.type == "SEP" and tok.subtype == "ARG":
                    continue
                if tok.type == "FUNC" and tok.subtype == "CLOSE":
                    return ("fn", name, tuple(args))
                self.fail(f"unexpected {tok.value!r}")
        if tok.type == "PAREN" and tok.subtype == "OPEN":
            node = self.expr(0)
            tok = self.next()
            if not (tok.type == "PAREN" and tok.subtype == "CLOSE"):
                self.fail("missing )")
            return node
        raise Unsupported(f"{tok.value!r} in formula {self.formula!r}")


_PARSED: dict[str, Any] = {}


def parse(formula: str):
    """The tree of a formula ("=..."); trees are cached by text."""
    tree = _PARSED.get(formula)
    if tree is None:
        if not formula.startswith("="):
            raise FormulaError(f"{formula!r} is not a formula")
        tree = _Parser(formula).parse()
        if len(_PARSED) > 10_000:
            _PARSED.clear()
        _PARSED[formula] = tree
    return tree


def references(tree) -> list[tuple]:
    """Every reference and name in a tree."""
    out = []
    stack = [tree]
    while stack:
        node = stack.pop()
        tag = node[0]
        if tag in ("ref", "name"):
            out.append(node)
        elif tag == "fn":
            stack.extend(node[2])
        elif tag == "op":
            stack.extend(node[2:])
        elif tag in ("neg", "pct"):
            stack.append(node[1])
    return out


# --- ranges --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rng:
    """A fixed block of cells (rows r1..r2, columns c1..c2)."""
    sheet: str
    r1: int
    c1: int
    r2: int
    c2: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.r2 - self.r1 + 1, self.c2 - self.c1 + 1


@dataclass
class RowRng:
    """A one-row block that moves with the formula's row: one V per column."""
    sheet: str
    c1: int
    columns: list


MISSING = object()


# --- the workbook being computed -------------------------------------------------------------------

@dataclass
class Run:
    """Cells of one column, rows first..first+n-1: constants, or one formula moved down row by row
    (its text as written in row ``first``)."""
    sheet: str
    col: int
    first: int
    n: int
    formula: str | None = None
    values: list | None = None
    result: V | None = None
    failed: str | None = None
    tree: Any = field(default=None, repr=False, compare=False)  # the parsed formula, while computing


class _Failed(Exception):
    pass


@dataclass
class Book:
    """What the formulas can see: constants and formulas of single cells, runs, defined names."""
    names: dict[str, str] = field(default_factory=dict)        # lower-case name -> reference text
    cells: dict[str, dict[tuple[int, int], Any]] = field(default_factory=dict)     # constants
    formulas: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)  # single formulas
    runs: list[Run] = field(default_factory=list)

    def add_cell(self, sheet: str, row: int, col: int, value: Any) -> None:
        self.cells.setdefault(sheet, {})[(row, col)] = value

    def add_formula(self, sheet: str, row: int, col: int, text: str) -> None:
        self.formulas.setdefault(sheet, {})[(row, col)] = text

    def add_run(self, run: Run) -> Run:
        self.runs.append(run)
        return run


@dataclass
class Results:
    """Values of single formula cells {(sheet, row, col): value} and of runs (Run.result);
    ``skipped`` lists the cells left without a value (strict=False) and why."""
    cells: dict[tuple[str, int, int], V] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class _Single:
    __slots__ = ("sheet", "row", "col", "formula", "result", "failed", "tree")

    def __init__(self, sheet, row, col, formula):
        self.sheet, self.row, self.col, self.formula = sheet, row, col, formula
        self.result = None
        self.failed = None
        self.tree = None


def _address(sheet: str, row: int, col: int) -> str:
    from openpyxl.utils import get_column_letter
    return f"{sheet}!{get_column_letter(col)}{row}"


class Engine:
    """Computes every formula of a Book."""

    def __init__(self, book: Book, strict: bool = True):
        self.book = book
        self.strict = strict
        self.names = {}
        for name, text in book.names.items():
            ref = parse_ref(text.strip().lstrip("="))
            self.names[name.lower()] = ref if ref is not None else ("badname", text)
        # per (sheet, col): runs sorted by first row; single cells {row: value}; formula singles
        self.col_runs: dict[tuple[str, int], list[Run]] = {}
        for run in book.runs:
            self.col_runs.setdefault((run.sheet, run.col), []).append(run)
        for runs in self.col_runs.values():
            runs.sort(key=lambda r: r.first)
        self.col_cells: dict[tuple[str, int], dict[int, Any]] = {}
        for sheet, cells in book.cells.items():
            for (r, c), v in cells.items():
                self.col_cells.setdefault((sheet, c), {})[r] = v
        self.singles: dict[tuple[str, int], dict[int, _Single]] = {}
        for sheet, cells in book.formulas.items():
            for (r, c), text in cells.items():
                self.singles.setdefault((sheet, c), {})[r] = _Single(sheet, r, c, text)
        self._range_cache: dict = {}
        self._match_cache: dict = {}
        self.sheet_keys = {s.lower(): s for s in set(book.cells) | set(book.formulas) | {r.sheet for r in book.runs}}

    # --- ordering ----------------------------------------------------------------------------
    def _sheet(self, name: str | None, default: str) -> str:
        if name is None:
            return default
        return self.sheet_keys.get(name.lower(), name)

    def _rects(self, node, sheet: str, n: int):
        """(sheet, r1, c1, r2, c2) of every reference of a formula over n rows."""
        for ref in references(node.tree):
            if ref[0] == "name":
                target = self.names.get(ref[1])
                if target is None or target[0] != "ref":
                    continue
                ref = target
            _, s, r1, a1, c1, r2, a2, c2 = ref
            yield (self._sheet(s, sheet), r1, c1, r2 + (0 if a2 else n - 1), c2)

    def _nodes_in(self, sheet, r1, c1, r2, c2):
        for c in range(c1, c2 + 1):
            for run in self.col_runs.get((sheet, c), ()):
                if run.formula is not None and run.first <= r2 and run.first + run.n - 1 >= r1:
                    yield run
            singles = self.singles.get((sheet, c))
            if singles:
                if r2 - r1 < len(singles):
                    for r in range(r1, r2 + 1):
                        if r in singles:
                            yield singles[r]
                else:
                    for r, s in singles.items():
                        if r1 <= r <= r2:
                            yield s

    def run(self) -> Results:
        results = Results()
        nodes: list[Run | _Single] = [r for r in self.book.runs if r.formula is not None]
        nodes += [s for col in self.singles.values() for s in col.values()]
        order: list = []
        deps: dict[int, set[int]] = {}
        index = {id(x): i for i, x in enumerate(nodes)}
        for i, node in enumerate(nodes):
            try:
                node.tree = parse(cast(str, node.formula))  # runs without a formula are left out above
            except FormulaError as exc:
                node.tree = None
                self._fail(node, str(exc), type(exc))
                deps[i] = set()
                continue
            n = getattr(node, "n", 1)
            found = set()
            for rect in self._rects(node, node.sheet, n):
                for other in self._nodes_in(*rect):
                    found.add(index[id(other)])
            deps[i] = found
        # Kahn's algorithm
        users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
        waiting = {}
        for i, ds in deps.items():
            waiting[i] = len(ds)
            for d in ds:
                users[d].append(i)
        ready = [i for i, w in waiting.items() if w == 0]
        while ready:
            i = ready.pop()
            order.append(i)
            for u in users[i]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    ready.append(u)
        if len(order) < len(nodes):
            stuck = [nodes[i] for i in range(len(nodes)) if waiting[i] > 0]
            for node in stuck:
                self._fail(node, f"circular reference in {_address(node.sheet, _row(node), node.col)}")
        for i in order:
            node = nodes[i]
            if node.tree is None or node.failed:
                continue
            try:
                if isinstance(node, Run):
                    node.result = self._evaluate(node.tree, node.sheet, node.first, node.n, node.col)
                else:
                    node.result = self._evaluate(node.tree, node.sheet, node.row, 1, node.col)
            except _Failed as exc:
                node.failed = str(exc)
            except FormulaError as exc:
                self._fail(node, str(exc), type(exc))
        for col in self.singles.values():
            for s in col.values():
                if s.result is not None:
                    results.cells[(s.sheet, s.row, s.col)] = s.result
                else:
                    results.skipped.append((_address(s.sheet, s.row, s.col), s.failed or "not computed"))
        for run in nodes:
            if isinstance(run, Run) and run.result is None:
                results.skipped.append((_address(run.sheet, run.first, run.col) + f" (+{run.n - 1} rows)",
                                        run.failed or "not computed"))
        return results

    def _fail(self, node, why: str, kind: type = FormulaError) -> None:
        if self.strict:
            raise kind(f"{_address(node.sheet, _row(node), node.col)}: {why}") from None
        node.failed = why

    # --- cells -------------------------------------------------------------------------------
    def gather(self, sheet: str, col: int, r1: int, r2: int) -> V:
        """The cells of one column, rows r1..r2, as V (blank where nothing is written)."""
        n = r2 - r1 + 1
        runs = self.col_runs.get((sheet, col), ())
        cells = self.col_cells.get((sheet, col))
        singles = self.singles.get((sheet, col))
        if len(runs) == 1 and not cells and not singles:
            run = runs[0]
            if run.first <= r1 and r2 <= run.first + run.n - 1:
                v = self._run_value(run)
                if run.first == r1 and run.n == n:
                    return _as_ref(v)
                return _as_ref(v.take(slice(r1 - run.first, r2 - run.first + 1)))
        kind = np.zeros(n, dtype=np.int8)
        num = np.zeros(n)
        text = None
        for run in runs:
            lo, hi = max(r1, run.first), min(r2, run.first + run.n - 1)
            if lo > hi:
                continue
            v = self._run_value(run)
            src = slice(lo - run.first, hi - run.first + 1)
            dst = slice(lo - r1, hi - r1 + 1)
            kind[dst] = v.kinds()[src]
            num[dst] = v.num[src]
            if v.text is not None:
                if text is None:
                    text = np.full(n, None, dtype=object)
                text[dst] = v.text[src]
        for source in (cells, singles):
            if not source:
                continue
            rows = range(r1, r2 + 1) if n < len(source) else [r for r in source if r1 <= r <= r2]
            for r in rows:
                if r not in source:
                    continue
                item = source[r]
                if isinstance(item, _Single):
                    if item.result is None:
                        raise _Failed(f"uses {_address(sheet, r, col)}, which has no value")
                    one = item.result
                else:
                    one = python_values([item])
                i = r - r1
                kind[i] = one.kinds()[0]
                num[i] = one.num[0]
                if one.text is not None and one.text[0] is not None:
                    if text is None:
                        text = np.full(n, None, dtype=object)
                    text[i] = one.text[0]
        return V(kind, num, text, ref=True)

    def _run_value(self, run: Run) -> V:
        if run.formula is None:
            if run.result is None:
                run.result = python_values(cast(list, run.values))  # a run without a formula holds values
            return run.result
        if run.result is None:
            raise _Failed(f"uses {_address(run.sheet, run.first, run.col)}, which has no value")
        return run.result

    def range_cells(self, rng: Rng) -> V:
        """A fixed range's cells, row by row."""
        key = rng
        v = self._range_cache.get(key)
        if v is None:
            cols = [self.gather(rng.sheet, c, rng.r1, rng.r2) for c in range(rng.c1, rng.c2 + 1)]
            if len(cols) == 1:
                v = cols[0]
            else:
                h = rng.r2 - rng.r1 + 1
                kind = np.stack([c.kinds() for c in cols], axis=1).reshape(-1)
                num = np.stack([c.num for c in cols], axis=1).reshape(-1)
                text = None
                if any(c.text is not None for c in cols):
                    text = np.stack([c.texts() for c in cols], axis=1).reshape(-1)
                v = V(kind, num, text, ref=True)
                assert len(v) == h * len(cols)
            self._range_cache[key] = v
        return v

    # --- evaluation --------------------------------------------------------------------------
    def _evaluate(self, tree, sheet: str, first: int, n: int, col: int) -> V:
        ctx = _Ctx(self, sheet, first, n, col)
        return stored(ctx.value(ctx.eval(tree)))


def stored(v: V) -> V:
    """What a formula cell holds: a blank it points to is 0."""
    blank = v.is_(BLANK)
    if np.any(blank):
        kind = np.where(blank, NUM, v.kinds()).astype(np.int8)
        v = V(kind, np.where(blank, 0.0, v.num), v.text)
    elif v.ref:
        v = V(v.kind, v.num, v.text)
    return v


def _row(node) -> int:
    return node.first if isinstance(node, Run) else node.row


def _as_ref(v: V) -> V:
    if v.ref:
        return v
    return V(v.kind, v.num, v.text, ref=True)


class _Ctx:
    """One formula evaluated over n rows starting at ``first`` (relative rows move with the row)."""

    def __init__(self, engine: Engine, sheet: str, first: int, n: int, col: int):
        self.engine, self.sheet, self.first, self.n, self.col = engine, sheet, first, n, col
        self.rows = np.arange(first, first + n)

    def eval(self, node):
        tag = node[0]
        if tag == "lit":
            return constant(node[1], self.n)
        if tag == "ref":
            return self.ref(node)
        if tag == "op":
            return _binary(node[1], self.value(self.eval(node[2])), self.value(self.eval(node[3])))
        if tag == "fn":
            return FUNCTIONS[node[1]](self, node[2])
        if tag == "name":
            target = self.engine.names.get(node[1])
            if target is None:
                return errors(NAME_E, self.n)
            if target[0] != "ref":
                raise Unsupported(f"defined name {node[1]!r} = {target[1]!r}")
            return self.ref(target, absolute=True)
        if tag == "neg":
            num, err = to_numbers(self.value(self.eval(node[1])))
            return numbers(-num, err)
        if tag == "pct":
            num, err = to_numbers(self.value(self.eval(node[1])))
            return numbers(num / 100, err)
        if tag == "err":
            return errors(node[1], self.n)
        if tag == "missing":
            return MISSING
        raise Unsupported(f"{tag}")

    def ref(self, node, absolute: bool = False):
        _, s, r1, a1, c1, r2, a2, c2 = node
        sheet = self.engine._sheet(s, self.sheet)
        moves = self.n > 1 and not absolute
        if r1 == r2 and c1 == c2:
            if moves and not a1:
                return self.engine.gather(sheet, c1, r1, r1 + self.n - 1)
            v = self.engine.gather(sheet, c1, r1, r1)
            return _repeat(v, self.n)
        if moves and (not a1 or not a2):
            if r1 == r2 and not a1 and not a2:
                return RowRng(sheet, c1, [self.engine.gather(sheet, c, r1, r1 + self.n - 1) for c in range(c1, c2 + 1)])
            raise Unsupported(f"a range whose rows move with the formula ({r1}:{r2})")
        return Rng(sheet, r1, c1, r2, c2)

    def value(self, x) -> V:
        """A single value per row: a range gives the cell in the formula's row or column
        (implicit intersection), else #VALUE!."""
        if isinstance(x, V):
            return x
        if x is MISSING:
            return V(BLANK, np.zeros(self.n))
        if isinstance(x, RowRng):
            if len(x.columns) == 1:
                return x.columns[0]
            if x.c1 <= self.col < x.c1 + len(x.columns):
                return x.columns[self.col - x.c1]
            return errors(VALUE_E, self.n)
        if isinstance(x, Rng):
            h, w = x.shape
            cells = self.engine.range_cells(x)
            if h == 1 and w == 1:
                return _repeat(cells, self.n)
            if w == 1:
                return self._intersect_rows(x, cells)
            if h == 1:
                if x.c1 <= self.col <= x.c2:
                    return _repeat(cells.take([self.col - x.c1]), self.n)
                return errors(VALUE_E, self.n)
            return errors(VALUE_E, self.n)
        raise Unsupported(f"value {x!r}")

    def _intersect_rows(self, x: Rng, cells: V) -> V:
        inside = (self.rows >= x.r1) & (self.rows <= x.r2)
        idx = np.clip(self.rows - x.r1, 0, len(cells) - 1)
        got = cells.take(idx)
        return where(inside, got, errors(VALUE_E, self.n))


def _repeat(v: V, n: int) -> V:
    if len(v) == n:
        return v
    idx = np.zeros(n, dtype=np.intp)
    return v.take(idx)


# --- operators -----------------------------------------------------------------------------------

def _arith(op: str, a: V, b: V) -> V:
    na, ea = to_numbers(a)
    nb, eb = to_numbers(b)
    err = first_error(ea, eb)
    with np.errstate(all="ignore"):
        if op == "+":
            r = na + nb
        elif op == "-":
            r = na - nb
        elif op == "*":
            r = na * nb
        elif op == "/":
            r = na / nb
            zero = nb == 0
            if zero.any():
                e = np.where(zero, DIV0, 0).astype(np.int8)
                err = e if err is None else np.where(err > 0, err, e)
        else:  # ^
            r = np.power(na, nb)
            special = ((na == 0) & (nb < 0), (na == 0) & (nb == 0))
            for mask, code in zip(special, (DIV0, NUM_E)):
                if mask.any():
                    e = np.where(mask, code, 0).astype(np.int8)
                    err = e if err is None else np.where(err > 0, err, e)
    return numbers(r, err)


_E48 = 2.0 ** -48


def approx_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal, or within 2^-48 of each other relative to both (spreadsheets' comparison)."""
    with np.errstate(all="ignore"):
        d = np.abs(a - b)
        close = (d < np.abs(a) * _E48) & (d < np.abs(b) * _E48) & (a != 0) & (b != 0)
    return (a == b) | close


def _compare(op: str, a: V, b: V) -> V:
    ka, kb = a.kinds(), b.kinds()
    err = first_error(np.where(ka == ERROR, a.num, 0).astype(np.int8), np.where(kb == ERROR, b.num, 0).astype(np.int8))
    # a blank takes the type of the other side: 0, "" or FALSE
    rank_of = np.array([0, 0, 1, 2, 0], dtype=np.int8)   # BLANK, NUM, TEXT, BOOL, ERROR
    ra = rank_of[ka]
    rb = rank_of[kb]
    ra = np.where(ka == BLANK, rb, ra)
    rb = np.where(kb == BLANK, ra, rb)
    cmp = np.sign(ra.astype(np.int8) - rb.astype(np.int8)).astype(float)  # -1, 0, 1 by type
    same = ra == rb
    numeric = same & (ra != 1)
    if numeric.any():
        x = np.where(ka == BLANK, 0.0, a.num)
        y = np.where(kb == BLANK, 0.0, b.num)
        eq = approx_equal(x, y)
        cmp = np.where(numeric, np.where(eq, 0.0, np.where(x < y, -1.0, 1.0)), cmp)
    textual = same & (ra == 1)
    if textual.any():
        idx = np.flatnonzero(textual)
        x = np.where(ka[idx] == TEXT, a.texts()[idx], "")
        y = np.where(kb[idx] == TEXT, b.texts()[idx], "")
        cmp[idx] = _text_order(x, y)
    result = {"=": cmp == 0, "<>": cmp != 0, "<": cmp < 0, ">": cmp > 0, "<=": cmp <= 0, ">=": cmp >= 0}[op]
    return booleans(result, err)


def _text_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-1, 0 or 1 for each pair of texts, compared without regard to case; each distinct text
    is lowered once."""
    both = np.concatenate([x, y]).astype(str)
    uniques, codes = np.unique(both, return_inverse=True)
    lowered = np.array([u.lower() for u in uniques.tolist()], dtype=str) if len(uniques) else uniques
    _, rank = np.unique(lowered, return_inverse=True)
    r = rank.reshape(-1)[codes.reshape(-1)]
    return np.sign(r[:len(x)] - r[len(x):]).astype(float)


def _concat(a: V, b: V) -> V:
    ta, ea = to_texts(a)
    tb, eb = to_texts(b)
    return texts([x + y for x, y in zip(ta, tb)], first_error(ea, eb))


def _binary(op: str, a: V, b: V) -> V:
    if op in ("+", "-", "*", "/", "^"):
        return _arith(op, a, b)
    if op == "&":
        return _concat(a, b)
    return _compare(op, a, b)


# --- functions -----------------------------------------------------------------------------------

def _need(args, lo: int, hi: int, name: str) -> None:
    if not lo <= len(args) <= hi:
        raise FormulaError(f"{name} takes {lo}..{hi} arguments, got {len(args)}")


def fn_if(ctx: _Ctx, args):
    _need(args, 1, 3, "IF")
    cond, err = to_booleans(ctx.value(ctx.eval(args[0])))

    def branch(i: int, default) -> V:
        if i >= len(args) or args[i][0] == "missing":
            return constant(default, ctx.n) if i >= len(args) else V(NUM, np.zeros(ctx.n))
        return ctx.value(ctx.eval(args[i]))

    if err is None and cond.all():
        out = branch(1, False)
    elif err is None and not cond.any():
        out = branch(2, False)
    else:
        out = where(cond, branch(1, False), branch(2, False))
    if err is not None:
        out = where(err > 0, V(ERROR, err.astype(float)), out)
    return out


def fn_iferror(ctx: _Ctx, args):
    _need(args, 2, 2, "IFERROR")
    value = ctx.value(ctx.eval(args[0]))
    bad = value.is_(ERROR)
    if not np.any(bad):
        return value
    alt = ctx.value(ctx.eval(args[1])) if args[1][0] != "missing" else V(NUM, np.zeros(ctx.n))
    if np.all(bad):
        return alt
    return where(np.asarray(bad), alt, value)


def _logical_parts(ctx: _Ctx, args, name: str):
    """(truth per row for each argument, whether it counted, error)."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    for node in args:
        x = ctx.eval(node)
        if isinstance(x, (Rng, RowRng)):
            cells = [ctx.engine.range_cells(x)] if isinstance(x, Rng) else x.columns
            for c in cells:
                if isinstance(x, Rng):  # a fixed range: one answer for every row
                    kind = c.kinds()
                    counted = (kind == NUM) | (kind == BOOL)
                    e = kind == ERROR
                    err_code = int(c.num[e][0]) if e.any() else 0
                    whole = bool(((c.num != 0) & counted).all()) if name == "AND" else bool(((c.num != 0) & counted).any())
                    parts.append((np.full(ctx.n, whole), np.full(ctx.n, bool(counted.any())),
                                  np.full(ctx.n, err_code, dtype=np.int8) if err_code else None))
                else:
                    parts.append(_logical_cells(c))
            continue
        v = ctx.value(x)
        if v.ref:
            parts.append(_logical_cells(v))
        else:
            truth, err = to_booleans(v)
            parts.append((truth, np.asarray(~v.is_(BLANK), dtype=bool) | np.zeros(ctx.n, dtype=bool), err))
    return parts


def _logical_cells(v: V):
    kind = v.kinds()
    counted = (kind == NUM) | (kind == BOOL)
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    return (v.num != 0) & counted, counted, (err if err.any() else None)


def _and_or(ctx: _Ctx, args, name: str) -> V:
    if not args:
        raise FormulaError(f"{name} needs an argument")
    parts = _logical_parts(ctx, args, name)
    n = ctx.n
    if name == "AND":
        out = np.ones(n, dtype=bool)
        for truth, counted, _ in parts:
            out &= truth | ~counted
    else:
        out = np.zeros(n, dtype=bool)
        for truth, counted, _ in parts:
            out |= truth & counted
    any_counted = np.zeros(n, dtype=bool)
    for _, counted, _ in parts:
        any_counted |= counted
    err = first_error(*(e for _, _, e in parts))
    none = np.where(any_counted, 0, VALUE_E).astype(np.int8)
    err = none if err is None else np.where(err > 0, err, none)
    return booleans(out, err)


def fn_and(ctx, args):
    return _and_or(ctx, args, "AND")


def fn_or(ctx, args):
    return _and_or(ctx, args, "OR")


def fn_not(ctx, args):
    _need(args, 1, 1, "NOT")
    value, err = to_booleans(ctx.value(ctx.eval(args[0])))
    return booleans(~value, err)


def _int_arg(ctx, node, default: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    if node is None or node[0] == "missing":
        return np.full(ctx.n, default if default is not None else 0, dtype=np.int64), None
    num, err = to_numbers(ctx.value(ctx.eval(node)))
    return np.trunc(num).astype(np.int64), err


def fn_index(ctx, args):
    _need(args, 2, 3, "INDEX")
    area = ctx.eval(args[0])
    rows, e1 = _int_arg(ctx, args[1])
    cols, e2 = _int_arg(ctx, args[2] if len(args) > 2 else None, 0)
    n = ctx.n
    if isinstance(area, V):
        area = RowRng(ctx.sheet, ctx.col, [area])
    if isinstance(area, RowRng):  # one row: INDEX(row, j) or INDEX(row, 1, j)
        w = len(area.columns)
        r, j = (rows, cols) if len(args) == 3 else (np.ones(n, dtype=np.int64), rows)
        j = np.where((j == 0) & (w == 1), 1, j)
        out = errors(REF_E, n)
        for k, column in enumerate(area.columns, start=1):
            out = where(j == k, column, out)
        out = where(r > 1, errors(REF_E, n), out)
        out = where((r < 0) | (j < 0), errors(VALUE_E, n), out)
        err = first_error(e1, e2)
        out = out if err is None else where(err > 0, V(ERROR, err.astype(float)), out)
        out.ref = True
        return out
    if not isinstance(area, Rng):
        raise Unsupported("INDEX of something other than a range")
    h, w = area.shape
    cells = ctx.engine.range_cells(area)
    if len(args) < 3 and h == 1:
        r, c = np.ones(n, dtype=np.int64), rows
    else:
        r, c = rows, cols
    whole_column = (r == 0) & (w == 1) & (h > 1)
    whole_row = (c == 0) & (h == 1) & (w > 1) & (len(args) == 3)
    c = np.where((c == 0) & (w == 1), 1, c)
    r = np.where((r == 0) & (h == 1), 1, r)
    bad = (r < 0) | (c < 0)
    out_of = (r > h) | (c > w) | (r == 0) | (c == 0)
    idx = np.clip((r - 1) * w + (c - 1), 0, len(cells) - 1)
    out = cells.take(idx)
    out = where(out_of, errors(REF_E, n), out)
    out = where(bad, errors(VALUE_E, n), out)
    if whole_column.any():
        out = where(whole_column, ctx._intersect_rows(area, cells), out)
    if whole_row.any():
        inside = area.c1 <= ctx.col <= area.c2
        out = where(whole_row, cells.take(np.full(n, ctx.col - area.c1)) if inside else errors(VALUE_E, n), out)
    err = first_error(e1, e2)
    if err is not None:
        out = where(err > 0, V(ERROR, err.astype(float)), out)
    out.ref = True
    return out


def _wildcard(pattern: str) -> re.Pattern | None:
    """A regular expression for a pattern with ? * ~ (None when it has none)."""
    if not any(ch in pattern for ch in "?*~"):
        return None
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern) and pattern[i + 1] in "?*~":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _lookup_key(kind: int, num: float, text: Any):
    if kind == TEXT:
        return (TEXT, text.lower())
    if kind in (NUM, BOOL):
        return (kind, num)
    return None


def fn_match(ctx, args):
    _need(args, 2, 3, "MATCH")
    kind_arg = ctx.value(ctx.eval(args[2])) if len(args) > 2 and args[2][0] != "missing" else None
    if kind_arg is None:
        raise Unsupported("MATCH without match_type 0 (sorted lookups)")
    mtype, merr = to_numbers(kind_arg)
    if merr is not None or (mtype != 0).any():
        raise Unsupported("MATCH with a match_type other than 0")
    lookup = ctx.value(ctx.eval(args[0]))
    area = ctx.eval(args[1])
    n = ctx.n
    lk, ln, lt = lookup.kinds(), lookup.num, lookup.texts()
    pos = np.zeros(n)
    err = np.zeros(n, dtype=np.int8)
    if isinstance(area, Rng):
        h, w = area.shape
        if h > 1 and w > 1:
            return errors(NA, n)
        cells = ctx.engine.range_cells(area)
        table = ctx.engine._match_cache.get(area)
        if table is None:
            table = {}
            ck, ct = cells.kinds(), cells.texts()
            for i in range(len(cells)):
                key = _lookup_key(int(ck[i]), float(cells.num[i]), ct[i])
                if key is not None and key not in table:
                    table[key] = i + 1
            ctx.engine._match_cache[area] = table
        memo: dict[Any, Any] = {}
        for i in range(n):
            k = int(lk[i])
            if k == ERROR:
                err[i] = int(ln[i])
                continue
            key = _lookup_key(k, float(ln[i]), lt[i])
            if key is None:
                err[i] = NA
                continue
            if key in memo:
                found = memo[key]
            else:
                pattern = _wildcard(lt[i]) if k == TEXT else None
                if pattern is None:
                    found = table.get(key)
                else:
                    ck, ct = cells.kinds(), cells.texts()
                    found = next((j + 1 for j in range(len(cells)) if ck[j] == TEXT and pattern.fullmatch(ct[j])), None)
                memo[key] = found
            if found is None:
                err[i] = NA
            else:
                pos[i] = found
        return numbers(pos, err)
    if isinstance(area, V):
        area = RowRng(ctx.sheet, ctx.col, [area])
    if not isinstance(area, RowRng):
        raise Unsupported("MATCH over this kind of range")
    found = np.zeros(n, dtype=bool)
    for j, column in enumerate(area.columns, start=1):
        hit = _match_cells(lookup, column) & ~found
        pos = np.where(hit, j, pos)
        found |= hit
    err = np.where(lk == ERROR, lookup.num, np.where(found, 0, NA)).astype(np.int8)
    err = np.where(lk == BLANK, NA, err).astype(np.int8)
    return numbers(pos, err)


def _match_cells(lookup: V, cells: V) -> np.ndarray:
    """Per row: does the cell equal the lookup value (same type; text without regard to case)?"""
    lk, ck = lookup.kinds(), cells.kinds()
    same = (lk == ck) & (lk != BLANK) & (lk != ERROR)
    out = same & (lk != TEXT) & (lookup.num == cells.num)
    text = same & (lk == TEXT)
    if text.any():
        lt, ct = lookup.texts(), cells.texts()
        for i in np.flatnonzero(text):
            pattern = _wildcard(lt[i])
            out[i] = bool(pattern.fullmatch(ct[i])) if pattern else lt[i].lower() == ct[i].lower()
    return out


def _aggregate_parts(ctx, args):
    """(numbers matrix pieces): for each argument, (values n x k, counted n x k, error n)."""
    pieces: list[tuple[Any, ...]] = []
    for node in args:
        x = ctx.eval(node)
        if isinstance(x, Rng):
            cells = ctx.engine.range_cells(x)
            kind = cells.kinds()
            counted = kind == NUM
            errs = kind == ERROR
            code = int(cells.num[errs][0]) if errs.any() else 0
            vals = np.where(counted, cells.num, np.nan)
            pieces.append(("fixed", vals[counted], code))
            continue
        columns = x.columns if isinstance(x, RowRng) else [ctx.value(x)]
        for v in columns:
            if v.ref or isinstance(x, RowRng):
                kind = v.kinds()
                counted = kind == NUM
                codes = np.where(kind == ERROR, v.num, 0).astype(np.int8)
                pieces.append(("rows", v.num, counted, codes if codes.any() else None))
            else:
                num, err = to_numbers(v)
                blank = v.is_(BLANK)
                counted = np.ones(ctx.n, dtype=bool) & ~np.asarray(blank, dtype=bool) if np.any(blank) else \
                    np.ones(ctx.n, dtype=bool)
                pieces.append(("rows", num, counted, err))
    return pieces


def _aggregate(ctx, args, how: str) -> V:
    n = ctx.n
    pieces = _aggregate_parts(ctx, args)
    if how == "SUM":
        total = np.zeros(n)
    else:
        total = np.full(n, np.inf if how == "MIN" else -np.inf)
    err = None
    for p in pieces:
        if p[0] == "fixed":
            vals, code = p[1], p[2]
            if code:
                e = np.full(n, code, dtype=np.int8)
                err = e if err is None else np.where(err > 0, err, e)
            if len(vals):
                if how == "SUM":
                    total = total + vals.sum()
                elif how == "MIN":
                    total = np.minimum(total, vals.min())
                else:
                    total = np.maximum(total, vals.max())
            continue
        _, num, counted, e = p
        err = first_error(err, e)
        if how == "SUM":
            total = total + np.where(counted, num, 0.0)
        elif how == "MIN":
            total = np.where(counted, np.minimum(total, num), total)
        else:
            total = np.where(counted, np.maximum(total, num), total)
    if how != "SUM":
        total = np.where(np.isinf(total) & (total == (np.inf if how == "MIN" else -np.inf)), 0.0, total)
    return numbers(total, err)


def fn_sum(ctx, args):
    return _aggregate(ctx, args, "SUM")


def fn_min(ctx, args):
    return _aggregate(ctx, args, "MIN")


def fn_max(ctx, args):
    return _aggregate(ctx, args, "MAX")


def fn_int(ctx, args):
    _need(args, 1, 1, "INT")
    num, err = to_numbers(ctx.value(ctx.eval(args[0])))
    return numbers(np.floor(approx15(num)), err)


def _round(ctx, args, name: str, mode: str):
    _need(args, 2 if mode != "half" else 1, 2, name)
    num, e1 = to_numbers(ctx.value(ctx.eval(args[0])))
    digits, e2 = _int_arg(ctx, args[1] if len(args) > 1 else None, 0)
    with np.errstate(all="ignore"):
        scale = 10.0 ** digits.astype(float)
        x = approx15(np.abs(num) * scale)
        if mode == "up":
            r = np.ceil(x)
        elif mode == "down":
            r = np.floor(x)
        else:
            r = np.floor(x + 0.5)
        r = np.sign(num) * r / scale
    return numbers(r, first_error(e1, e2))


def fn_roundup(ctx, args):
    return _round(ctx, args, "ROUNDUP", "up")


def fn_rounddown(ctx, args):
    return _round(ctx, args, "ROUNDDOWN", "down")


def fn_round(ctx, args):
    return _round(ctx, args, "ROUND", "half")


def fn_abs(ctx, args):
    _need(args, 1, 1, "ABS")
    num, err = to_numbers(ctx.value(ctx.eval(args[0])))
    return numbers(np.abs(num), err)


def fn_ln(ctx, args):
    _need(args, 1, 1, "LN")
    num, err = to_numbers(ctx.value(ctx.eval(args[0])))
    with np.errstate(all="ignore"):
        return numbers(np.where(num > 0, np.log(np.where(num > 0, num, 1.0)), np.nan), err)  # LN(0 or less): #NUM!


def fn_n(ctx, args):
    _need(args, 1, 1, "N")
    v = ctx.value(ctx.eval(args[0]))
    kind = v.kinds()
    num = np.where((kind == NUM) | (kind == BOOL), v.num, 0.0)
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    return numbers(num, err)


def _is(test: Callable[[V], np.ndarray | bool]):
    def fn(ctx, args):
        _need(args, 1, 1, "IS")
        v = ctx.value(ctx.eval(args[0]))
        return booleans(np.asarray(test(v), dtype=bool) | np.zeros(ctx.n, dtype=bool))
    return fn


fn_isna = _is(lambda v: v.is_(ERROR) & (v.num == NA))
fn_isnumber = _is(lambda v: v.is_(NUM))
fn_istext = _is(lambda v: v.is_(TEXT))
fn_iserror = _is(lambda v: v.is_(ERROR))
fn_islogical = _is(lambda v: v.is_(BOOL))
fn_isblank = _is(lambda v: v.is_(BLANK))


def _text_args(ctx, args) -> tuple[list[list], np.ndarray | None]:
    cols, errs = [], []
    for node in args:
        t, e = to_texts(ctx.value(ctx.eval(node)))
        cols.append(t)
        errs.append(e)
    return cols, first_error(*errs)


def fn_search(ctx, args):
    _need(args, 2, 3, "SEARCH")
    (find, within), err = _text_args(ctx, args[:2])
    start, e3 = _int_arg(ctx, args[2] if len(args) > 2 else None, 1)
    err = first_error(err, e3)
    n = ctx.n
    pos = np.zeros(n)
    bad = np.zeros(n, dtype=np.int8)
    memo: dict[Any, Any] = {}
    for i in range(n):
        key = (find[i], within[i], int(start[i]))
        if key not in memo:
            f, w, s = key
            if s < 1 or s > len(w) + 1:
                memo[key] = None
            else:
                pattern = _wildcard(f) or re.compile(re.escape(f), re.IGNORECASE | re.DOTALL)
                m = pattern.search(w, s - 1)
                memo[key] = m.start() + 1 if m else None
        found = memo[key]
        if found is None:
            bad[i] = VALUE_E
        else:
            pos[i] = found
    return numbers(pos, first_error(err, bad))


def fn_substitute(ctx, args):
    _need(args, 3, 4, "SUBSTITUTE")
    (text, old, new), err = _text_args(ctx, args[:3])
    which, e4 = _int_arg(ctx, args[3] if len(args) > 3 else None, 0)
    out = []
    bad = np.zeros(ctx.n, dtype=np.int8)
    for i in range(ctx.n):
        t, o, nw, k = text[i], old[i], new[i], int(which[i])
        if len(args) > 3 and k < 1:
            bad[i] = VALUE_E
            out.append("")
        elif not o:
            out.append(t)
        elif k == 0:
            out.append(t.replace(o, nw))
        else:
            parts = t.split(o)
            out.append(t if k >= len(parts) else o.join(parts[:k]) + nw + o.join(parts[k:]))
    return texts(out, first_error(err, e4, bad))


def fn_lower(ctx, args):
    _need(args, 1, 1, "LOWER")
    (t,), err = _text_args(ctx, args)
    return texts([x.lower() for x in t], err)


def fn_upper(ctx, args):
    _need(args, 1, 1, "UPPER")
    (t,), err = _text_args(ctx, args)
    return texts([x.upper() for x in t], err)


def fn_trim(ctx, args):
    _need(args, 1, 1, "TRIM")
    (t,), err = _text_args(ctx, args)
    return texts([" ".join(x.split(" ")).strip(" ") if "  " not in x else re.sub(" +", " ", x).strip(" ") for x in t],
                 err)


def fn_len(ctx, args):
    _need(args, 1, 1, "LEN")
    (t,), err = _text_args(ctx, args)
    return numbers(np.array([float(len(x)) for x in t]), err)


def fn_left(ctx, args):
    _need(args, 1, 2, "LEFT")
    (t,), e1 = _text_args(ctx, args[:1])
    k, e2 = _int_arg(ctx, args[1] if len(args) > 1 else None, 1)
    bad = np.where(k < 0, VALUE_E, 0).astype(np.int8)
    return texts([x[:max(int(j), 0)] for x, j in zip(t, k)], first_error(e1, e2, bad if bad.any() else None))


def fn_na(ctx, args):
    _need(args, 0, 0, "NA")
    return errors(NA, ctx.n)


def fn_concatenate(ctx, args):
    cols, err = _text_args(ctx, args)
    return texts(["".join(parts) for parts in zip(*cols)], err)


def _criteria(value: Any) -> Callable[[int, float, str | None], bool]:
    """COUNTIF's test of one cell (kind, number, text) for a criterion."""
    if isinstance(value, bool):
        return lambda k, x, t: k == BOOL and x == float(value)
    if isinstance(value, float):
        return lambda k, x, t: k == NUM and x == value
    s = value or ""
    op = next((o for o in ("<=", ">=", "<>", "<", ">", "=") if s.startswith(o)), "")
    op, operand = op or "=", s[len(op):]
    number = _parse_number(operand) if operand.strip() else None
    if number is not None:
        tests = {"=": lambda x: x == number, "<>": lambda x: x != number, "<": lambda x: x < number,
                 ">": lambda x: x > number, "<=": lambda x: x <= number, ">=": lambda x: x >= number}
        test = tests[op]
        if op == "<>":
            return lambda k, x, t: not (k == NUM and x == number)
        return lambda k, x, t: k == NUM and test(x)
    if operand.upper() in ("TRUE", "FALSE"):
        b = float(operand.upper() == "TRUE")
        if op == "<>":
            return lambda k, x, t: not (k == BOOL and x == b)
        return lambda k, x, t: k == BOOL and x == b
    if operand == "":
        if op == "=":
            return lambda k, x, t: k == BLANK or (k == TEXT and t == "")
        if op == "<>":
            return lambda k, x, t: not (k == BLANK or (k == TEXT and t == ""))
    pattern = _wildcard(operand) or re.compile(re.escape(operand), re.IGNORECASE | re.DOTALL)
    if op == "=":
        return lambda k, x, t: k == TEXT and bool(pattern.fullmatch(t))
    if op == "<>":
        return lambda k, x, t: not (k == TEXT and bool(pattern.fullmatch(t)))
    low = operand.lower()
    cmp = {"<": lambda a: a < low, ">": lambda a: a > low, "<=": lambda a: a <= low, ">=": lambda a: a >= low}[op]
    return lambda k, x, t: k == TEXT and t is not None and cmp(t.lower())


def fn_sumif(ctx, args):
    """SUMIF(range, criterion, sum_range) over ranges of fixed cells (the Quote sheet's totals)."""
    _need(args, 3, 3, "SUMIF")
    area, summed = ctx.eval(args[0]), ctx.eval(args[2])
    if not (isinstance(area, Rng) and isinstance(summed, Rng)):
        raise Unsupported("SUMIF over anything but two ranges of cells")
    crit = ctx.value(ctx.eval(args[1]))
    cells, values = ctx.engine.range_cells(area), ctx.engine.range_cells(summed)
    kinds, nums, txt = cells.kinds(), cells.num, cells.texts()
    vkinds = values.kinds()
    out, err = np.zeros(ctx.n), np.zeros(ctx.n, dtype=np.int8)
    ck = crit.kinds()
    for i in range(ctx.n):
        if int(ck[i]) == ERROR:
            err[i] = int(crit.num[i])
            continue
        value = "" if int(ck[i]) == BLANK else crit.python(i)
        test = _criteria(value)
        for j in range(min(len(cells), len(values))):
            if test(int(kinds[j]), nums[j], txt[j]):
                if int(vkinds[j]) == ERROR:
                    err[i] = err[i] or int(values.num[j])
                elif int(vkinds[j]) == NUM:
                    out[i] += values.num[j]
    return numbers(out, err if err.any() else None)


def fn_countif(ctx, args):
    _need(args, 2, 2, "COUNTIF")
    area = ctx.eval(args[0])
    crit = ctx.value(ctx.eval(args[1]))
    cells: V | None = None
    cells_by_row: list[V] = []
    if isinstance(area, Rng):
        cells = ctx.engine.range_cells(area)
    elif isinstance(area, RowRng):
        cells_by_row = area.columns
    else:
        raise Unsupported("COUNTIF over a single value")
    out = np.zeros(ctx.n)
    ck = crit.kinds()
    memo: dict[Any, Any] = {}
    for i in range(ctx.n):
        k = int(ck[i])
        if k == ERROR:
            continue
        value = crit.python(i)
        if k == BLANK:
            value = ""
        key = (k, value)
        if cells is not None and key in memo:
            out[i] = memo[key]
            continue
        test = _criteria(value if k != NUM else float(value))
        if cells is not None:
            kinds, nums, txt = cells.kinds(), cells.num, cells.texts()
            memo[key] = out[i] = sum(1 for j in range(len(cells)) if test(int(kinds[j]), nums[j], txt[j]))
        else:
            out[i] = sum(1 for c in cells_by_row if test(int(c.kinds()[i]), c.num[i], c.texts()[i]))
    err = np.where(ck == ERROR, crit.num, 0).astype(np.int8)
    return numbers(out, err if err.any() else None)


# --- TEXT(value, format) ---------------------------------------------------------------------------

_DATE_CODES = re.compile(r"[yYdDhHsS]|(?<![0#?.,])[mM]|AM/PM|am/pm")


def _sections(fmt: str) -> list[str]:
    out, cur, quoted, i = [], [], False, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and not quoted and i + 1 < len(fmt):
            cur.append(fmt[i:i + 2])
            i += 2
            continue
        elif ch == ";" and not quoted:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _strip_literals(section: str) -> str:
    return re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", section)


def format_number(x: float, fmt: str) -> str:
    """x in a number format: 0 # ? placeholders, decimals, thousands separators, %, literal text."""
    if fmt.strip().lower() in ("general", ""):
        return general(x)
    sections = _sections(fmt)
    if len(sections) > 4:
        raise Unsupported(f"number format {fmt!r}")
    if x < 0 and len(sections) >= 2:
        section, x, sign = sections[1], -x, ""
    elif x == 0 and len(sections) >= 3:
        section, sign = sections[2], ""
    else:
        section, sign = sections[0], "-" if x < 0 else ""
        x = abs(x)
    bare = _strip_literals(section)
    if _DATE_CODES.search(bare) or "E+" in bare.upper() or "E-" in bare.upper() or "/" in bare:
        raise Unsupported(f"number format {fmt!r}")
    if "@" in bare:
        raise Unsupported(f"number format {fmt!r} for a number")
    # split into literal prefix, the number's placeholders, literal suffix
    tokens = re.findall(r'"[^"]*"|\\.|\[[^\]]*\]|[0#?.,]|.', section, re.DOTALL)
    placeholder = [t in ("0", "#", "?", ".", ",") for t in tokens]
    if not any(t in ("0", "#", "?") for t in tokens):
        return sign + "".join(_literal(t) for t in tokens if not t.startswith("[")) if tokens else sign
    first = placeholder.index(True)
    last = len(placeholder) - 1 - placeholder[::-1].index(True)
    body = tokens[first:last + 1]
    if not all(placeholder[first:last + 1]):
        raise Unsupported(f"number format {fmt!r}")
    prefix = "".join(_literal(t) for t in tokens[:first] if not t.startswith("["))
    suffix = "".join(_literal(t) for t in tokens[last + 1:] if not t.startswith("["))
    if "%" in prefix + suffix:
        x *= 100
    body_text = "".join(body)
    scale_commas = len(body_text) - len(body_text.rstrip(","))
    body_text = body_text.rstrip(",")
    x /= 1000 ** scale_commas
    int_part, _, frac_part = body_text.partition(".")
    grouping = "," in int_part
    int_part = int_part.replace(",", "")
    decimals = len(frac_part)
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    digits = f"{d:f}"
    whole, _, frac = digits.partition(".")
    min_int = int_part.count("0")
    whole = whole.lstrip("0").rjust(min_int, "0")
    if grouping and whole:
        whole = f"{int(whole):,}".rjust(min_int, "0")
    if decimals:
        required = len(frac_part) - len(frac_part.lstrip("0"))
        frac = frac.rstrip("0").ljust(required, "0")
        text = whole + "." + frac
    else:
        text = whole
    if sign and not any(ch in "123456789" for ch in text):
        sign = ""
    return sign + prefix + text + suffix


def _literal(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    return token


def fn_text(ctx, args):
    _need(args, 2, 2, "TEXT")
    v = ctx.value(ctx.eval(args[0]))
    (fmts,), e2 = _text_args(ctx, args[1:])
    kind = v.kinds()
    err = np.where(kind == ERROR, v.num, 0).astype(np.int8)
    out = []
    memo: dict[Any, Any] = {}
    text_values = v.texts()
    for i in range(ctx.n):
        k = kind[i]
        if k == TEXT:
            x = _parse_number(text_values[i])
            if x is None:
                out.append(text_values[i])
                continue
        elif k == BOOL:
            out.append("TRUE" if v.num[i] else "FALSE")
            continue
        else:
            x = float(v.num[i]) if k == NUM else 0.0
        key = (x, fmts[i])
        if key not in memo:
            memo[key] = format_number(x, fmts[i])
        out.append(memo[key])
    return texts(out, first_error(err if err.any() else None, e2))


FUNCTIONS: dict[str, Callable] = {
    "IF": fn_if, "IFERROR": fn_iferror, "AND": fn_and, "OR": fn_or, "NOT": fn_not,
    "INDEX": fn_index, "MATCH": fn_match, "MIN": fn_min, "MAX": fn_max, "SUM": fn_sum,
    "INT": fn_int, "ROUNDUP": fn_roundup, "ROUNDDOWN": fn_rounddown, "ROUND": fn_round, "ABS": fn_abs,
    "LN": fn_ln,
    "N": fn_n, "ISNA": fn_isna, "ISNUMBER": fn_isnumber, "ISTEXT": fn_istext, "ISERROR": fn_iserror,
    "ISLOGICAL": fn_islogical, "ISBLANK": fn_isblank, "COUNTIF": fn_countif, "SEARCH": fn_search,
    "SUBSTITUTE": fn_substitute, "LOWER": fn_lower, "UPPER": fn_upper, "TRIM": fn_trim, "LEN": fn_len,
    "CONCATENATE": fn_concatenate, "TEXT": fn_text, "LEFT": fn_left, "NA": fn_na, "SUMIF": fn_sumif,
}


def evaluate(book: Book, strict: bool = True) -> Results:
    """Compute every formula of ``book``: runs get ``.result``; single cells are in the Results."""
    return Engine(book, strict=strict).run()


def value_of(formula: str, cells: dict[str, dict[str, Any]] | None = None, names: dict[str, str] | None = None,
             sheet: str = "Sheet", at: str = "A1") -> Any:
    """One formula's value as a Python value (float, str, bool, None for blank, "#N/A"...), with
    ``cells`` {sheet: {"B2": value or "=formula"}} around it: for tests and for checking by hand."""
    from openpyxl.utils.cell import coordinate_from_string

    book = Book(names=dict(names or {}))
    for s, values in (cells or {}).items():
        for coord, value in values.items():
            col, row = coordinate_from_string(coord)
            if isinstance(value, str) and value.startswith("="):
                book.add_formula(s, row, column_index(col), value)
            else:
                book.add_cell(s, row, column_index(col), value)
    col, row = coordinate_from_string(at)
    book.add_formula(sheet, row, column_index(col), formula)
    results = evaluate(book, strict=True)
    v = results.cells[(sheet, row, column_index(col))]
    return v.python(0)
