"""Scenario rows for the quote workbook, from a CSV or from lists of models and devices.

Each row is checked by the core; a bad row is reported ("row 4: Unknown model 'x'. Did you
mean: ...?") and left out, and the good rows are quoted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable


from . import formulas as F
from .catalog import Catalog
from .errors import InvalidValueError
from .estimate import estimate_many
from .scenario_csv import canonical, file_decimal_mark, open_table, typed_row

TEXT_KEYS = ("scenario", "model", "hardware", "precision", "engine", "kv_precision")


def typed(key: str, value: Any) -> Any:
    """Numbers as numbers, text as text, empty as None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if key in TEXT_KEYS:
        return str(value).strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value  # the core explains why; the row is skipped
    return int(number) if number.is_integer() else number


def _check(rows: list[dict[str, Any]], cat: Catalog, labels: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    if not rows:
        return [], []
    cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
    result = estimate_many(cols.pop("model"), cols.pop("hardware"), catalog=cat, **cols)
    good, problems = [], []
    for row, label, error in zip(rows, labels, result["error"]):
        if error is None:
            good.append(row)
        else:
            problems.append(f"{label}: {error}")
    return good, problems


def scenarios_from_csv(path: str, cat: Catalog,
                       decimal: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    reader, _ = open_table(path)
    mark = file_decimal_mark(path, decimal)  # "," in a ";"-separated file unless told
    records = [{canonical(k): v for k, v in rec.items()} for rec in reader.read_all().to_pylist()]
    rows, labels, unreadable = [], [], []
    for i, rec in enumerate(records):  # CSV line numbers as a spreadsheet shows them: the header is row 1
        row, error = typed_row(rec, F.INPUT_KEYS, TEXT_KEYS, mark)
        if error:
            unreadable.append(f"row {i + 2}: {error}")
        else:
            rows.append(row)
            labels.append(f"row {i + 2}")
    good, problems = _check(rows, cat, labels)
    return good, unreadable + problems


def scenarios_from_lists(models: Iterable[str], hardware: Iterable[str], cat: Catalog):
    rows = []
    for m in models:
        if cat.model(m).kind == "api" or not hardware:
            rows.append({"scenario": m, "model": m, "requests_per_month": 1_000_000})
            continue
        for h in hardware:
            rows.append({"scenario": f"{m} on {h}", "model": m, "hardware": h, "requests_per_month": 1_000_000})
    return _check(rows, cat, [r["scenario"] for r in rows])


__all__ = ["scenarios_from_csv", "scenarios_from_lists"]


#: More good rows than this are refused for a workbook: each row carries ~200 live formulas.
WORKBOOK_MAX_ROWS = 10_000


def put_into_workbook(path: str | Path, blocks: list, cat: Catalog) -> str:
    """The good rows of priced `fill` blocks as a quote's scenarios: a new quote, or the existing
    one refreshed (keeping the user's edits). Returns what was done, in one line."""
    from .refresh import refresh
    from .workbook import build_workbook, save_atomically

    path = Path(path)
    if not blocks:
        raise InvalidValueError("The CSV has no rows to put into the workbook.")
    rows = []
    for block in blocks:
        by_key = {canonical(name): name for name in block.column_names}
        columns = {k: block.column(by_key[k]).to_pylist() for k in F.INPUT_KEYS if k in by_key}
        status = block.column("status").to_pylist()
        rows += [{k: typed(k, v[i]) for k, v in columns.items()} for i in range(block.num_rows) if status[i] == "ok"]
    if len(rows) > WORKBOOK_MAX_ROWS:
        raise InvalidValueError(f"{len(rows):,} good rows are more than a quote workbook holds well "
                                f"({WORKBOOK_MAX_ROWS:,}). Keep the CSV results, or quote a selection.")
    if path.exists():
        report = refresh(path, catalog=cat, scenarios=rows)
        return f"Put {len(rows):,} scenarios into {path} (previous version in {report.backup})."
    save_atomically(build_workbook(rows, catalog=cat), path)
    return f"Put {len(rows):,} scenarios into a new quote {path}."
