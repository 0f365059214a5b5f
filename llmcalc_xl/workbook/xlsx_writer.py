"""Saving the quote workbook: fast, and with the value of every formula stored beside it.

openpyxl builds the workbook (styles, names, tables, validation, charts, the small sheets),
but a cell object per formula is slow for the big sheets (Scenarios, Calc, Quote: hundreds of
formulas per scenario row), and openpyxl cannot store a formula together with its value.
So:

- The big sheets' rows are kept in a ``SheetCells`` store (``fast_rows``) instead of openpyxl
  cells. A column's formula moved down row by row is written once, as a shared formula.
- At save, ``formula_values`` computes every formula of the workbook (the store's and
  openpyxl's own cells) and each ``<c>`` gets ``<f>`` and ``<v>`` (``t="str"``, ``"b"`` or
  ``"e"`` where the value is text, a boolean or an error). The file still tells Excel to
  recalculate on open (``fullCalcOnLoad``).
- openpyxl writes each sheet as usual; the sheets that hold formulas are then rewritten on
  the way into the zip: the store's rows are streamed in, and the formula cells openpyxl
  wrote get their values.

What is written (layout, formulas, styles) stays defined in ``workbook.py``.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import queue
import re
import threading
import zipfile
from typing import Any, cast

import numpy as np

from . import formula_values as FV
ROW_TOKEN = "\x00"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


class SheetCells:
    """The cells of a worksheet's rows from ``first_row`` on, written when the file is saved."""

    def __init__(self, ws, first_row: int):
        self.ws = ws
        self.first_row = first_row
        self.columns: dict[int, list[tuple]] = {}   # col -> [(row, n, is_formula, payload, style id)]
        self._style_ids: dict[tuple, int] = {}

    def style_id(self, style: str | None, fmt: str | None) -> int:
        key = (style, fmt)
        sid = self._style_ids.get(key)
        if sid is None:
            if style is None and fmt is None:
                sid = 0
            else:
                from openpyxl.cell.cell import Cell

                cell = Cell(self.ws)
                if style:
                    cell.style = style
                if fmt:
                    cell.number_format = fmt
                sid = self.ws.parent._cell_styles.add(cell._style)
            self._style_ids[key] = sid
        return sid

    def value(self, row: int, col: int, value: Any, style: str | None = None, fmt: str | None = None) -> None:
        """A constant; text stays text (never a formula)."""
        if isinstance(value, str):
            value = _checked_text(value)
        self.columns.setdefault(col, []).append((row, 1, False, value, self.style_id(style, fmt)))

    def formula(self, row: int, col: int, text: str, style: str | None = None, fmt: str | None = None) -> None:
        """A formula ("=..."); ROW_TOKEN in it stands for ``row``. A formula that is the one above it
        moved down a row (the row number replaced back by ROW_TOKEN gives the same text) extends it."""
        sid = self.style_id(style, fmt)
        if ROW_TOKEN not in text:
            text = text.replace(str(row), ROW_TOKEN)
        entries = self.columns.get(col)
        if entries is None:
            self.columns[col] = [(row, 1, True, text, sid)]
            return
        last = entries[-1]
        if last[2] and last[0] + last[1] == row and last[4] == sid and last[3] == text:
            entries[-1] = (last[0], last[1] + 1, True, text, sid)
        else:
            entries.append((row, 1, True, text, sid))

    def formula_rows(self, col: int, first: int, n: int, text: str, style: str | None = None,
                     fmt: str | None = None) -> None:
        """The same formula in rows first..first+n-1 of a column, ROW_TOKEN standing for each row."""
        if n > 0:
            self.columns.setdefault(col, []).append((first, n, True, text, self.style_id(style, fmt)))

    @property
    def max_row(self) -> int:
        return max((e[0] + e[1] - 1 for entries in self.columns.values() for e in entries), default=0)


def fast_rows(ws, first_row: int) -> SheetCells:
    """Keep this sheet's rows from ``first_row`` on out of openpyxl, in a store written by ``save``
    (which the workbook's own ``save`` then calls too, so that no row is left out)."""
    cells = SheetCells(ws, first_row)
    ws._llmcalc_cells = cells
    wb = ws.parent
    if "save" not in vars(wb):
        wb.save = lambda filename, wb=wb: save(wb, str(filename))
    return cells


def cells_of(ws, row: int) -> SheetCells | None:
    """The store that takes this row of this sheet, if any."""
    cells = getattr(ws, "_llmcalc_cells", None)
    return cells if cells is not None and row >= cells.first_row else None


def _checked_text(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils.exceptions import IllegalCharacterError

    value = value[:32767]
    if ILLEGAL_CHARACTERS_RE.search(value):
        raise IllegalCharacterError(f"{value} cannot be used in worksheets.")
    return value


# --- planning: runs, single cells, the Book to compute ---------------------------------------------

def _render(template: str, row: int) -> str:
    return template.replace(ROW_TOKEN, str(row))


class _Column:
    """One store column, resolved: value cells, formula runs (shared) and single formulas."""

    def __init__(self, sheet: str, col: int, letter: str):
        self.sheet, self.col, self.letter = sheet, col, letter
        self.values: list[tuple[int, Any, int]] = []              # (row, value, sid)
        self.runs: list[tuple[FV.Run, str, int, bool]] = []      # (run, template, sid, shared)
        self.singles: list[tuple[int, str, int]] = []             # (row, text, sid)


_SHAREABLE: dict[tuple[str, str], bool] = {}


def _shareable(template: str, letter: str, first: int) -> bool:
    """Does moving the first row's formula down (as a shared formula does) give each row's?"""
    key = (template, letter)
    ok = _SHAREABLE.get(key)
    if ok is None:
        from openpyxl.formula.translate import Translator

        try:
            moved = Translator(_render(template, first), f"{letter}{first}").translate_formula(f"{letter}{first + 1}")
            ok = moved == _render(template, first + 1)
        except Exception:  # noqa: BLE001 - a formula openpyxl cannot move is written row by row
            ok = False
        if len(_SHAREABLE) > 5000:
            _SHAREABLE.clear()
        _SHAREABLE[key] = ok
    return ok


def _resolve(sheet: str, col: int, entries: list[tuple], taken: set) -> _Column:
    from openpyxl.utils import get_column_letter

    out = _Column(sheet, col, get_column_letter(col))
    if any(entries[i][0] + entries[i][1] > entries[i + 1][0] for i in range(len(entries) - 1)):
        # out of order or written twice: one entry per row, the later write winning
        by_row = {}
        for row, n, is_formula, payload, sid in entries:
            for r in range(row, row + n):
                by_row[r] = (is_formula, payload, sid)
        entries = [(r, 1, *by_row[r]) for r in sorted(by_row)]
    run = None  # [first, n, template, sid]

    def close():
        if run is None:
            return
        first, n, template, sid = run
        if n > 1 and ROW_TOKEN in template and _shareable(template, out.letter, first):
            out.runs.append((FV.Run(sheet, col, first, n, formula=_render(template, first)), template, sid, True))
        elif n > 1 and ROW_TOKEN not in template and _shareable(template, out.letter, first):
            out.runs.append((FV.Run(sheet, col, first, n, formula=template), template, sid, True))
        else:
            for r in range(first, first + n):
                out.singles.append((r, _render(template, r), sid))

    for row, n, is_formula, payload, sid in entries:
        if taken and any((r, col) in taken for r in range(row, row + n)):
            # an openpyxl cell written over the store's: openpyxl's wins
            keep = [r for r in range(row, row + n) if (r, col) not in taken]
            close()
            run = None
            for r in keep:
                if is_formula:
                    out.singles.append((r, _render(payload, r), sid))
                else:
                    out.values.append((r, payload, sid))
            continue
        if not is_formula:
            close()
            run = None
            out.values.append((row, payload, sid))
            continue
        template = payload
        if run is not None and run[2] == template and run[3] == sid and run[0] + run[1] == row:
            run[1] += n
        else:
            close()
            run = [row, n, template, sid]
    close()
    return out


class _Plan:
    """Everything to write and compute, gathered from the workbook just before it is saved."""

    def __init__(self, wb, strict: bool = False):
        self.wb = wb
        self.book = FV.Book()
        for name, dn in wb.defined_names.items():
            if dn.attr_text:
                self.book.names[name] = dn.attr_text
        self.stores: dict[str, SheetCells] = {}
        self.columns: dict[str, list[_Column]] = {}
        self.formula_cells: dict[str, list[tuple[int, int]]] = {}
        for ws in wb.worksheets:
            for name, dn in getattr(ws, "defined_names", {}).items():
                if dn.attr_text and name not in self.book.names:
                    self.book.names[name] = dn.attr_text
            cells = getattr(ws, "_llmcalc_cells", None)
            taken = set()
            for (r, c), cell in ws._cells.items():
                value = cell._value
                if cell.data_type == "f":
                    if isinstance(value, str):
                        self.book.add_formula(ws.title, r, c, value)
                        self.formula_cells.setdefault(ws.title, []).append((r, c))
                elif value is not None:
                    self.book.add_cell(ws.title, r, c, _python(value, cell.data_type))
                if cells is not None and r >= cells.first_row:
                    taken.add((r, c))
            if cells is None:
                continue
            self.stores[ws.title] = cells
            cols = []
            for col in sorted(cells.columns):
                column = _resolve(ws.title, col, cells.columns[col], taken)
                cols.append(column)
                if column.values:
                    self._add_values(ws.title, col, column.values)
                for run, *_ in column.runs:
                    self.book.add_run(run)
                for r, text, _ in column.singles:
                    self.book.add_formula(ws.title, r, col, text)
            self.columns[ws.title] = cols
        self.results = FV.evaluate(self.book, strict=strict)

    def _add_values(self, sheet: str, col: int, values: list[tuple[int, Any, int]]) -> None:
        start = 0
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i][0] != values[i - 1][0] + 1:
                chunk = values[start:i]
                self.book.add_run(FV.Run(sheet, col, chunk[0][0], len(chunk),
                                         values=[_python(v, None) for _, v, _ in chunk]))
                start = i

    # --- the sheet XML ---------------------------------------------------------------------------
    def handles(self, ws) -> bool:
        return ws.title in self.stores or ws.title in self.formula_cells

    def write_sheet(self, archive: zipfile.ZipFile, filename: str, arcname: str, ws) -> None:
        with open(filename, "rb") as fh:
            xml = fh.read().decode("utf-8")
        m = re.search(r"<sheetData\s*/>|<sheetData>(.*?)</sheetData>", xml, re.DOTALL)
        if m is None:
            raise ValueError(f"no sheetData in {arcname}")
        head, tail = xml[:m.start()], xml[m.end():]
        theirs = self._their_rows(ws, m.group(1) or "")
        ours = self._our_rows(ws)
        head = self._dimension(head, ws, ours)
        with archive.open(arcname, "w", force_zip64=True) as out:
            chunks = itertools.chain([head, "<sheetData>"], _merge_rows(theirs, ours, ws), ["</sheetData>", tail])
            _write_behind(out, (chunk.encode("utf-8") for chunk in chunks))

    def _their_rows(self, ws, content: str) -> list[tuple[int, str, Any]]:
        """openpyxl's rows: (row, xml, element or None), formula cells given their values."""
        if not content.strip():
            return []
        from lxml import etree
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        root = etree.fromstring(f'<sheetData xmlns="{MAIN_NS}">{content}</sheetData>')
        ns = f"{{{MAIN_NS}}}"
        out = []
        for row in root:
            r = int(row.get("r"))
            for c in row:
                f = c.find(ns + "f")
                if f is None:
                    continue
                letters, rr = coordinate_from_string(c.get("r"))
                v = self.results.cells.get((ws.title, rr, column_index_from_string(letters)))
                for old in c.findall(ns + "v"):
                    c.remove(old)
                if "t" in c.attrib:
                    del c.attrib["t"]
                if v is None:
                    continue
                t, text = _cell_value(v, 0)
                if t:
                    c.set("t", t)
                el = etree.SubElement(c, ns + "v")
                el.text = text
            xml = etree.tostring(row, encoding="unicode").replace(f' xmlns="{MAIN_NS}"', "", 1)
            out.append((r, xml, row))
        return out

    def _our_rows(self, ws) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """(the rows the store writes, sorted; for each of its columns, each row's cell xml or "")."""
        cells = self.stores.get(ws.title)
        if cells is None:
            return None
        columns = self.columns[ws.title]
        pieces = []   # (rows array, col, strings)
        shared_ids = itertools.count()
        for column in columns:
            pieces.extend(_column_xml(column, self.results, shared_ids))
        if not pieces:
            return None
        all_rows = np.unique(np.concatenate([p[0] for p in pieces]))
        grid = []
        for rows, col, strings in sorted(pieces, key=lambda p: p[1]):
            arr = np.full(len(all_rows), "", dtype=object)
            arr[np.searchsorted(all_rows, rows)] = strings
            grid.append(arr)
        return all_rows, grid

    def _dimension(self, head: str, ws, ours) -> str:
        from openpyxl.utils import get_column_letter

        rows, cols = [], []
        if ws._cells:
            rows += [min(r for r, _ in ws._cells), max(r for r, _ in ws._cells)]
            cols += [min(c for _, c in ws._cells), max(c for _, c in ws._cells)]
        if ours is not None:
            rows += [int(ours[0][0]), int(ours[0][-1])]
            cells = self.stores[ws.title]
            cols += [min(cells.columns), max(cells.columns)]
        if not rows:
            return head
        ref = f"{get_column_letter(min(cols))}{min(rows)}:{get_column_letter(max(cols))}{max(rows)}"
        return re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>', head, count=1)


def _write_behind(out, chunks) -> None:
    """Write chunks to ``out`` from a second thread, so that deflating one chunk (zlib lets other
    threads run) overlaps making the next."""
    pending: queue.Queue = queue.Queue(maxsize=4)
    failed: list[BaseException] = []

    def drain():
        while (chunk := pending.get()) is not None:
            if not failed:
                try:
                    out.write(chunk)
                except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                    failed.append(exc)

    writer = threading.Thread(target=drain, name="xlsx-writer", daemon=True)
    writer.start()
    try:
        for chunk in chunks:
            if failed:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _python(value: Any, data_type: str | None) -> Any:
    """A cell's value as the formulas see it."""
    if data_type == "e":
        return FV.CellError(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        from openpyxl.utils.datetime import to_excel
        return to_excel(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# --- cells as XML --------------------------------------------------------------------------------

def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number_texts(num: np.ndarray) -> np.ndarray:
    """Numbers as the shortest text that reads back exactly (integers without ".0"); each
    distinct number is formatted once."""
    if len(num) > 64:
        uniq, inverse = np.unique(num, return_inverse=True)
        if len(uniq) < len(num) // 2:
            return _number_texts(uniq)[inverse.reshape(-1)]
    ints = (num == np.floor(num)) & (np.abs(num) < 1e15)
    out = np.empty(len(num), dtype=object)
    if ints.all():
        out[:] = [str(i) for i in num.astype(np.int64).tolist()]
        return out
    out[:] = [repr(x) for x in num.tolist()]
    if ints.any():
        idx = np.flatnonzero(ints)
        out[idx] = [str(i) for i in num[idx].astype(np.int64).tolist()]
    return out


def _cell_value(v: FV.V, i: int) -> tuple[str, str]:
    """(t attribute, <v> text) of cell i of a computed value."""
    k = int(v.kind[i]) if isinstance(v.kind, np.ndarray) else v.kind
    if k == FV.TEXT:
        return "str", v.texts()[i]
    if k == FV.BOOL:
        return "b", "1" if v.num[i] else "0"
    if k == FV.ERROR:
        return "e", FV.ERRORS[int(v.num[i])]
    x = float(v.num[i]) if k == FV.NUM else 0.0
    return "", str(_number_texts(np.array([x]))[0])


_T_ATTR = np.array(["", "", ' t="str"', ' t="b"', ' t="e"'], dtype=object)  # by kind


def _values_xml(v: FV.V) -> tuple[np.ndarray, np.ndarray]:
    """For each cell: the t attribute (' t="str"' or '') and '<v>...</v>'."""
    n = len(v)
    if not isinstance(v.kind, np.ndarray) and v.kind == FV.NUM:
        vals = np.empty(n, dtype=object)
        vals[:] = [f"<v>{t}</v>" for t in _number_texts(v.num).tolist()]
        return np.full(n, "", dtype=object), vals
    kinds = v.kinds()
    vals = np.empty(n, dtype=object)
    num = kinds == FV.NUM
    if num.any():
        vals[num] = [f"<v>{t}</v>" for t in _number_texts(v.num[num]).tolist()]
    text: Any = v.text  # an object array wherever a cell is text
    for kind, make in ((FV.TEXT, lambda i: f"<v>{_escape(text[i])}</v>"),
                       (FV.BOOL, lambda i: "<v>1</v>" if v.num[i] else "<v>0</v>"),
                       (FV.ERROR, lambda i: f"<v>{FV.ERRORS[int(v.num[i])]}</v>"),
                       (FV.BLANK, lambda i: "<v>0</v>")):
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            vals[idx] = [make(i) for i in idx.tolist()]
    return _T_ATTR[kinds], vals


def _style(sid: int) -> str:
    return f' s="{sid}"' if sid else ""


def _value_cell(coord: str, value: Any, sid: int) -> str:
    s = _style(sid)
    if value is None:
        return f'<c r="{coord}"{s}/>'
    if isinstance(value, (bool, np.bool_)):
        return f'<c r="{coord}"{s} t="b"><v>{1 if value else 0}</v></c>'
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() and value.strip() else ""
        return f'<c r="{coord}"{s} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        x = float(value)
        if not math.isfinite(x):
            return f'<c r="{coord}"{s}><v></v></c>'
        if isinstance(value, (int, np.integer)):
            return f'<c r="{coord}"{s}><v>{int(value)}</v></c>'
        return f'<c r="{coord}"{s}><v>{_number_texts(np.array([x]))[0]}</v></c>'
    return _openpyxl_cell(coord, value, sid)


def _openpyxl_cell(coord: str, value: Any, sid: int) -> str:
    """Any other value (dates, decimals) as openpyxl writes it."""
    from lxml import etree
    from openpyxl import Workbook
    from openpyxl.cell._writer import etree_write_cell
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    letters, row = coordinate_from_string(coord)
    ws = Workbook().active
    cell = ws.cell(row=row, column=column_index_from_string(letters), value=value)

    class _Collect:
        el: Any = None

        def write(self, el):
            self.el = el

    sink = _Collect()
    etree_write_cell(sink, ws, cell, styled=False)
    if sid:
        sink.el.set("s", str(sid))
    return etree.tostring(sink.el, encoding="unicode")


def _column_xml(column: _Column, results: FV.Results, shared_ids):
    """(rows, col, [cell xml]) pieces of one store column; shared_ids numbers the shared formulas."""
    letter = column.letter
    pieces = []
    if column.values:
        rows = np.array([r for r, _, _ in column.values])
        pieces.append((rows, column.col, [_value_cell(f"{letter}{r}", v, sid) for r, v, sid in column.values]))
    for run, template, sid, shared in column.runs:
        rows = np.arange(run.first, run.first + run.n)
        s = _style(sid)
        index = next(shared_ids)
        last = run.first + run.n - 1
        numbers_only = run.result is not None and not isinstance(run.result.kind, np.ndarray) \
            and run.result.kind == FV.NUM
        if run.result is None:
            tattr, vals = [""] * run.n, [""] * run.n
        elif numbers_only:
            nums = _number_texts(run.result.num).tolist()
            tattr, vals = [""], [f"<v>{nums[0]}</v>"]
        else:
            tattr, vals = (a.tolist() for a in _values_xml(run.result))
        master = _escape(cast(str, run.formula)[1:])  # the store's runs are formula runs
        strings = [f'<c r="{letter}{run.first}"{s}{tattr[0]}><f t="shared" ref="{letter}{run.first}:{letter}{last}" '
                   f'si="{index}">{master}</f>{vals[0]}</c>']
        if numbers_only:  # one step per cell: the most common case by far
            pre, mid = f'<c r="{letter}', f'"{s}><f t="shared" si="{index}"/><v>'
            strings += [f"{pre}{r}{mid}{t}</v></c>" for r, t in zip(range(run.first + 1, last + 1), nums[1:])]
        else:
            head, body = f'"{s}', f'><f t="shared" si="{index}"/>'
            strings += [f'<c r="{letter}{r}{head}{t}{body}{v}</c>'
                        for r, t, v in zip(range(run.first + 1, last + 1), tattr[1:], vals[1:])]
        pieces.append((rows, column.col, strings))
    if column.singles:
        rows = np.array([r for r, _, _ in column.singles])
        strings = []
        for r, text, sid in column.singles:
            v = results.cells.get((column.sheet, r, column.col))
            t, val = ("", "") if v is None else _cell_value(v, 0)
            t_attr = f' t="{t}"' if t else ""
            vxml = f"<v>{_escape(val)}</v>" if v is not None else ""
            strings.append(f'<c r="{letter}{r}"{_style(sid)}{t_attr}><f>{_escape(text[1:])}</f>{vxml}</c>')
        pieces.append((rows, column.col, strings))
    return pieces


def _row_attrs(ws, r: int) -> str:
    dims = ws.row_dimensions.get(r) if hasattr(ws.row_dimensions, "get") else None
    if not dims:
        return ""
    return "".join(f' {k}="{v}"' for k, v in dict(dims).items())


def _letters(ref: str) -> str:
    """The column letters a cell reference starts with ("AB12" -> "AB")."""
    return ref[:len(ref) - len(ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))]


def _merged_row(r: int, cells: tuple, el) -> str:
    """A row that both openpyxl and the store wrote: their cells and ours, by column; theirs win."""
    from lxml import etree

    by_column = {}
    for piece in cells:
        if piece:
            by_column[_letters(piece[len('<c r="'):])] = piece
    for c in el.findall(f"{{{MAIN_NS}}}c"):
        by_column[_letters(c.get("r"))] = etree.tostring(c, encoding="unicode").replace(f' xmlns="{MAIN_NS}"', "", 1)
    attrs = "".join(f' {k}="{v}"' for k, v in el.attrib.items() if k != "r")
    ordered = sorted(by_column.items(), key=lambda kv: (len(kv[0]), kv[0]))
    return f'<row r="{r}"{attrs}>' + "".join(p for _, p in ordered) + "</row>"


def _merge_rows(theirs, ours, ws, chunk_rows: int = 500):
    """The sheetData rows in row order, in chunks of text."""
    if ours is None:
        yield "".join(xml for _, xml, _ in theirs)
        return
    all_rows, grid = ours
    theirs = sorted(theirs, key=lambda t: t[0])
    dims = set(ws.row_dimensions.keys())
    j, buf = 0, []
    for r, cells in zip(all_rows.tolist(), zip(*grid)):
        while j < len(theirs) and theirs[j][0] < r:
            buf.append(theirs[j][1])
            j += 1
        if j < len(theirs) and theirs[j][0] == r:
            buf.append(_merged_row(r, cells, theirs[j][2]))
            j += 1
        else:
            buf.append(f'<row r="{r}"{_row_attrs(ws, r) if r in dims else ""}>' + "".join(cells) + "</row>")
        if len(buf) >= chunk_rows:
            yield "".join(buf)
            buf = []
    buf.extend(xml for _, xml, _ in theirs[j:])
    yield "".join(buf)


# --- saving ---------------------------------------------------------------------------------------

class _Archive(zipfile.ZipFile):
    plan: _Plan | None = None
    current = None

    def write(self, filename, arcname=None, *args, **kwargs):
        ws = self.current
        if self.plan is not None and ws is not None and arcname == ws.path[1:] and self.plan.handles(ws):
            self.plan.write_sheet(self, filename, arcname, ws)
            return None
        return super().write(filename, arcname, *args, **kwargs)


def _writer_class():
    from openpyxl.writer.excel import ExcelWriter

    class _Writer(ExcelWriter):
        def write_worksheet(self, ws):
            self._archive.current = ws
            try:
                super().write_worksheet(ws)
            finally:
                self._archive.current = None

    return _Writer


def save(wb, path: str, compresslevel: int = 6, strict: bool = False) -> FV.Results:
    """Write ``wb`` to ``path`` with the value of every formula; returns what was computed."""
    plan = _Plan(wb, strict=strict)
    with _Archive(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=compresslevel) as archive:
        archive.plan = plan
        _writer_class()(wb, archive).save()
    return plan.results


def computed(wb, strict: bool = True) -> FV.Results:
    """The values every formula of ``wb`` would be saved with (strict: raise on what cannot be computed)."""
    return _Plan(wb, strict=strict).results


def max_row(ws) -> int:
    """The last row written, counting the rows kept for the save."""
    cells = getattr(ws, "_llmcalc_cells", None)
    return max(ws.max_row, cells.max_row if cells is not None else 0)
