"""Scenario rows for the quote workbook, from a CSV or from lists of models and devices.

Each row is checked by the core; a bad row is reported ("row 4: Unknown model 'x'. Did you
mean: ...?") and left out, and the good rows are quoted.
"""

from __future__ import annotations

from typing import Any, Iterable


from . import formulas as F
from .catalog import Catalog
from .estimate import estimate_many
from .scenario_csv import canonical, open_table

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


def scenarios_from_csv(path: str, cat: Catalog) -> tuple[list[dict[str, Any]], list[str]]:
    reader, _ = open_table(path)
    records = [{canonical(k): v for k, v in rec.items()} for rec in reader.read_all().to_pylist()]
    rows = [{k: typed(k, rec.get(k)) for k in F.INPUT_KEYS} for rec in records]
    # CSV line numbers as a spreadsheet shows them: the header is row 1
    return _check(rows, cat, [f"row {i + 2}" for i in range(len(rows))])


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
