"""`llmcalc-xl refresh`: bring a quote built by an earlier version up to date.

The workbook is rebuilt from today's code and catalog (new prices, new models, fixed
formulas), and everything the user typed is carried over: scenario rows, the cover's fields,
edited assumptions, edited catalog cells (told apart from catalog updates by the hidden Built
sheet) and their own catalog rows. Whatever cannot be carried is reported. The file is
written atomically (temporary file, then rename) after a backup copy is made; a workbook
open in Excel (its ~$ lock file beside it) or one holding parts openpyxl would drop is
refused unless told to go on.
"""

from __future__ import annotations

import datetime as _dt
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import formulas as F
from ..catalogs.loader import Catalog, load_catalog
from ..cell_text import safe_text
from ..errors import InvalidValueError
from ..catalogs.loader import user_catalog_paths
from ..files import (backup_copy, check_distinct, check_not_open, check_workbook, check_writable, open_workbook,
                    regular_file)
from .template import style_name
from .build import (CALIBRATION_COLUMNS, CATALOG_SHEETS, FIRST_ROW, HEADER_ROW, build_workbook, load_template,
                    save_atomically, scenario_headers)

#: Parts of an .xlsx that openpyxl does not carry through a load and save.
DROPPED_PARTS = {
    "xl/vbaProject.bin": "macros (VBA)", "customXml/": "custom XML parts", "xl/media/": "pictures",
    "xl/comments": "comments", "xl/threadedComments": "threaded comments", "xl/pivot": "pivot tables",
    "xl/slicers": "slicers", "xl/activeX": "ActiveX controls", "xl/ctrlProps": "form controls",
    "xl/embeddings": "embedded objects", "xl/timelines": "timelines",
}


@dataclass
class Report:
    path: Path
    backup: Path
    scenarios: int = 0
    carried: list[str] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)


def dropped_content(path: Path) -> list[str]:
    """What in this file a rebuild through openpyxl would lose (beyond what llmcalc-xl writes)."""
    found = set()
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            for prefix, what in DROPPED_PARTS.items():
                if name.startswith(prefix):
                    found.add(what)
            if name.startswith("xl/drawings/drawing") and name.endswith(".xml"):
                text = z.read(name).decode("utf-8", "replace")
                if "<xdr:sp>" in text or "<xdr:sp " in text or "<xdr:pic" in text:
                    found.add("shapes or pictures")
            if name.startswith("xl/worksheets/sheet") and name.endswith(".xml"):
                if _contains(z, name, b"x14:"):
                    found.add("newer Excel formatting (x14 extensions: sparklines, data bars)")
    return sorted(found)


def _base(header: Any) -> str:
    """A header without its "(empty: ...)" note: quotes built by earlier versions still match."""
    return str(header).split(" (empty:")[0].strip().lower()


def read_scenarios(path: str | Path) -> list[dict[str, Any]]:
    """The scenario inputs of a quote."""
    path = Path(path)
    wb = open_workbook(path, "Quote", read_only=True, data_only=True)
    try:
        if "Scenarios" not in wb.sheetnames:
            raise InvalidValueError(f"'{path.name}' has no Scenarios sheet: it was not made by `llmcalc-xl build`.")
        return _read_scenarios(wb["Scenarios"], Report(path=path, backup=path))
    finally:
        wb.close()


def read_assumption(path: str | Path, name: str) -> Any:
    """The value of one assumption of a quote (None when it has none)."""
    wb = open_workbook(Path(path), "Quote", read_only=True, data_only=True)
    try:
        if "Assumptions" not in wb.sheetnames:
            return None
        for key, value in wb["Assumptions"].iter_rows(min_row=5, max_col=2, values_only=True):
            if key == name:
                return value
        return None
    finally:
        wb.close()


def _contains(z: zipfile.ZipFile, name: str, needle: bytes) -> bool:
    """Whether a part holds ``needle``, read in pieces (a sheet can be hundreds of MB)."""
    tail = b""
    with z.open(name) as fh:
        while chunk := fh.read(1 << 20):
            if needle in tail + chunk[:len(needle)] or needle in chunk:
                return True
            tail = chunk[-len(needle):]
    return False


def _read_scenarios(ws, report: Report) -> list[dict[str, Any]]:
    header = next(ws.iter_rows(min_row=HEADER_ROW, max_row=HEADER_ROW, values_only=True), ())
    cells = [(str(v), c) for c, v in enumerate(header, start=1) if v]
    exact: dict[str, int] = {}
    for text, c in cells:
        exact.setdefault(text, c)
    # an earlier version's header of the same input ("GPUs (empty: 1)"), never a result's header
    noted = {_base(text): c for text, c in cells if "(empty:" in text}
    columns: dict[str, int] = {}
    for key, label in scenario_headers().items():
        col = exact.get(label) or (noted.get(_base(label)) if "(empty:" in label else None)
        if col:
            columns[key] = col
        else:
            report.not_carried.append(f"Scenarios column for {key} not found; its inputs take the default")
    rows = []
    for values in ws.iter_rows(min_row=FIRST_ROW, values_only=True):
        row = {k: values[c - 1] if c <= len(values) else None for k, c in columns.items()}
        if any(v not in (None, "") for v in row.values()):
            if isinstance(row.get("model"), str) or row.get("model") is None:
                rows.append(row)
    return rows


def _placeholder_cells(template: Any) -> dict[str, str]:
    """{key: coordinate} of the Cover's placeholders in a template."""
    cells = {}
    for row in template["Cover"].iter_rows():
        for cell in row:
            v = cell.value
            if isinstance(v, str) and v.strip().startswith("{") and v.strip().endswith("}"):
                cells[v.strip()[1:-1]] = cell.coordinate
    return cells


def _catalog_edits(old, report: Report) -> tuple[dict[tuple[str, str, str], Any], dict[str, list[dict[str, Any]]]]:
    """(edited cells {(sheet, id, field): value}, new rows {sheet: [row]}) against the Built record."""
    if "Built" not in old.sheetnames:
        report.not_carried.append("catalog edits: this workbook has no record of its built catalog (made by an "
                                  "older version); catalog sheets are the current catalog")
        return {}, {}
    built: dict[tuple[str, str, str], Any] = {}
    for sheet, eid, fld, value in old["Built"].iter_rows(min_row=2, max_col=4, values_only=True):
        if isinstance(sheet, str) and eid not in (None, "") and isinstance(fld, str):
            built[(sheet, eid, fld)] = value
    built_ids = {(s, i) for s, i, _ in built}
    edits: dict[tuple[str, str, str], Any] = {}
    new_rows: dict[str, list[dict[str, Any]]] = {}
    for sheet in CATALOG_SHEETS.values():
        if sheet not in old.sheetnames:
            continue
        ws = old[sheet]
        fields = [c.value for c in ws[1]]
        for values in ws.iter_rows(min_row=2, values_only=True):
            row = dict(zip(fields, values))
            eid = row.get("id")
            if eid in (None, ""):
                continue
            if (sheet, eid) not in built_ids:
                new_rows.setdefault(sheet, []).append(row)
                continue
            for fld, value in row.items():
                if fld and (sheet, eid, fld) in built and not _same(built[(sheet, eid, fld)], value):
                    edits[(sheet, eid, fld)] = value
    return edits, new_rows


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _apply_catalog(new, edits, new_rows, report: Report) -> None:
    from openpyxl.utils import get_column_letter

    for (sheet, eid, fld), value in edits.items():
        ws = new[sheet]
        fields = [c.value for c in ws[1]]
        ids = [c.value for c in ws["A"]]
        if fld not in fields or eid not in ids:
            report.not_carried.append(f"{sheet} {eid} {fld} = {value!r}: that "
                                      f"{'field' if fld not in fields else 'entry'} no longer exists")
            continue
        cell = ws.cell(ids.index(eid) + 1, fields.index(fld) + 1)
        report.carried.append(f"your {sheet} {eid} {fld} = {value!r} (catalog now {cell.value!r})")
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
    for sheet, rows in new_rows.items():
        ws = new[sheet]
        fields = [c.value for c in ws[1]]
        table = next(iter(ws.tables.values()))
        for row in rows:
            r = ws.max_row + 1
            for fld, value in row.items():
                if fld in fields:
                    cell = ws.cell(r, fields.index(fld) + 1, value)
                    cell.style = style_name("Input")
                    if isinstance(value, str):
                        cell.data_type = "s"
                elif value not in (None, ""):
                    report.not_carried.append(f"{sheet} {row.get('id')} {fld}: that field no longer exists")
            report.carried.append(f"your {sheet} row {row.get('id')}")
        table.ref = f"A1:{get_column_letter(len(fields))}{ws.max_row}"
        if table.autoFilter is not None:
            table.autoFilter.ref = table.ref


def _with_calibrations(cat: Catalog, old, name: str, report: Report) -> Catalog:
    """The catalog with the quote's own calibrations (its Calibrations sheet: ``llmcalc-xl calibrate``
    files it was built with, and efficiencies typed there) for the engines and devices the catalog has
    none of; a calibration the catalog holds for the same engine and device replaces the quote's."""
    from ..errors import CatalogError

    if "Calibrations" not in old.sheetnames:
        return cat
    rows = old["Calibrations"].iter_rows(min_row=4, values_only=True)
    fields = [CALIBRATION_COLUMNS.get(str(h)) for h in next(rows, ())]
    for values in rows:
        table = {f: v.date().isoformat() if isinstance(v, _dt.datetime) else v  # a date typed as a date
                 for f, v in zip(fields, values) if f and v not in (None, "")}
        if not table.get("id"):
            continue
        label = f"'{name}', Calibrations sheet, calibration '{table['id']}'"
        pair = (str(table.get("engine")), str(table.get("hardware")))
        current = cat.calibration(*pair)
        if current is not None:  # the file it was built with, given again, or a newer calibration
            if any(not _same(getattr(current, f), table.get(f)) for f in ("prefill_mfu", "decode_mfu", "decode_mbu")):
                report.not_carried.append(f"calibration {table['id']}: the catalog's calibration of {pair[0]} on "
                                          f"{pair[1]} ({current.source}, {current.as_of}) replaces the quote's")
            continue
        try:
            cat = cat.with_calibrations([table], label, f"{name} (Calibrations sheet)")
        except CatalogError as exc:
            report.not_carried.append(f"calibration {table['id']}: {exc}")
            continue
        report.carried.append(f"your calibration {table['id']} ({pair[0]} on {pair[1]})")
    return cat


def refresh(path: str | Path, *, catalog: Iterable[str] | Catalog | None = None, template: str | Path | None = None,
            force: bool = False, scenarios: list[dict[str, Any]] | None = None) -> Report:
    """Rebuild ``path`` in place; ``scenarios`` (if given) replace its scenario rows."""
    path = regular_file(path, "Workbook")
    check_not_open(path)
    check_workbook(path)
    backup = backup_path(path)
    check_writable(backup, probe=True)  # a read-only folder is refused now, not after the rebuild
    inputs = [("--template", template)] if template is not None else []
    if not isinstance(catalog, Catalog):
        inputs += [("the catalog file", p) for p in user_catalog_paths(catalog or ())]
    check_distinct([("the workbook", path), ("its backup", backup)], inputs)
    dropped = dropped_content(path)
    if dropped and not force:
        raise InvalidValueError(f"'{path.name}' holds {', '.join(dropped)}, which a refresh would drop. Copy them "
                                "aside, or add --force to refresh anyway and lose them.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    old = open_workbook(path, checked=True, read_only=True)  # formulas a user typed into an input stay formulas
    for needed in ("Scenarios", "Cover"):
        if needed not in old.sheetnames:
            raise InvalidValueError(f"'{path.name}' has no {needed} sheet: it was not made by `llmcalc-xl build`.")
    report = Report(path=path, backup=backup)
    if dropped:
        report.not_carried.append("dropped as asked (--force): " + ", ".join(dropped))
    if scenarios is None:  # the values a spreadsheet last showed: reading the results' formulas is slow
        values = open_workbook(path, checked=True, read_only=True, data_only=True)
        try:
            scenarios = _read_scenarios(values["Scenarios"], report)
        finally:
            values.close()
    report.scenarios = len(scenarios)
    cover_cells = _placeholder_cells(load_template(template))
    cover = {}
    for key in ("title", "client", "prepared_by", "as_of"):
        coord = cover_cells.get(key)
        value = old["Cover"][coord].value if coord else None
        if value not in (None, "") and not (isinstance(value, str) and value.startswith("{")):
            cover[key] = value
    if isinstance(cover.get("as_of"), _dt.datetime):
        cover["as_of"] = cover["as_of"].date()
    assumptions, formulas = {}, set()
    if "Assumptions" in old.sheetnames:
        for name, value in old["Assumptions"].iter_rows(min_row=5, max_col=2):
            if isinstance(name.value, str) and name.value:
                assumptions[name.value] = value.value
                if value.data_type == "f":
                    formulas.add(name.value)  # the user's own formula stays one; their text stays text
    edits, new_rows = _catalog_edits(old, report)
    cat = _with_calibrations(cat, old, path.name, report)
    old.close()

    new = build_workbook(scenarios, catalog=cat, template=template, **cover)
    known = {name for name, *_ in F.ASSUMPTIONS}
    defaults = {name: value for name, value, *_ in F.ASSUMPTIONS}
    ws = new["Assumptions"]
    for r in range(5, 5 + len(F.ASSUMPTIONS)):
        name = ws.cell(r, 1).value
        if name in assumptions and not _same(assumptions[name], defaults[name]):
            value = assumptions[name]
            ws.cell(r, 2).value = value if name in formulas else safe_text(value)
            if isinstance(value, str) and name not in formulas:
                ws.cell(r, 2).data_type = "s"
            report.carried.append(f"your assumption {name} = {assumptions[name]!r}")
    for name in sorted(set(assumptions) - known):
        report.not_carried.append(f"assumption {name}: no longer used")
    _apply_catalog(new, edits, new_rows, report)
    backup_copy(path, backup)
    save_atomically(new, path, force=True)
    return report


def backup_path(path: str | os.PathLike) -> Path:
    """Where refresh keeps the previous version: quote.xlsx -> quote.backup.xlsx."""
    path = Path(path)
    return path.with_name(f"{path.stem}.backup{path.suffix}")
