"""Scenario rows for the quote workbook, from a CSV or from lists of models and devices.

Each row is checked by the core; a bad row is reported ("row 4: Unknown model 'x'. Did you
mean: ...?") and left out, and the good rows are quoted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable


from . import formulas as F
from ..catalogs.loader import Catalog
from ..errors import InvalidValueError
from ..core.estimate import estimate_many
from ..core.options import WORD_OPTIONS
from ..scenario_csv import canonical, file_decimal_mark, open_table, typed_row

TEXT_KEYS = ("scenario",) + F.TEXT_INPUTS


def _check(rows: list[dict[str, Any]], cat: Catalog, labels: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows the core accepts, with names written as catalog ids, and a message per refused row."""
    if not rows:
        return [], []
    cols: dict[str, Any] = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
    result = estimate_many(cols.pop("model"), cols.pop("hardware"), catalog=cat, **cols)
    good, problems = [], []
    for i, (row, label, error) in enumerate(zip(rows, labels, result["error"])):
        if error is None:
            good.append(_canonical(row, {k: result[k][i] for k in F.TEXT_INPUTS if k in result}))
        else:
            problems.append(f"{label}: {error}")
    return good, problems


def _canonical(row: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """The row with each name it gives written as the catalog id ("H100" -> h100-sxm), so that the
    workbook matches it exactly; the text as typed goes into an empty Scenario label."""
    out = dict(row)
    typed = []
    for key in F.TEXT_INPUTS:
        given = row.get(key)
        if given is None or not isinstance(ids.get(key), str) or ids[key] == "custom" \
                or str(given).strip().lower() == "auto":
            continue
        out[key] = ids[key]
        if key in ("model", "hardware") and str(given) != ids[key]:
            typed.append(str(given))
    if typed and not row.get("scenario"):
        out["scenario"] = " on ".join([str(row["model"])] + ([str(row["hardware"])] if row.get("hardware") else []))
    return out


def scenarios_from_csv(path: str, cat: Catalog,
                       decimal: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    reader, _ = open_table(path)
    mark = file_decimal_mark(path, decimal)  # "," in a ";"-separated file unless told
    records = [{canonical(k): v for k, v in rec.items()} for rec in reader.read_all().to_pylist()]
    rows, labels, unreadable = [], [], []
    for i, rec in enumerate(records):  # CSV line numbers as a spreadsheet shows them: the header is row 1
        row, error = typed_row(rec, F.INPUT_KEYS, TEXT_KEYS, mark, WORD_OPTIONS)
        if error:
            unreadable.append(f"row {i + 2}: {error}")
        else:
            rows.append(row)
            labels.append(f"row {i + 2}")
    good, problems = _check(rows, cat, labels)
    return good, unreadable + problems


def scenarios_from_lists(models: Iterable[str], hardware: Iterable[str], cat: Catalog):
    rows: list[dict[str, Any]] = []
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


def merge_scenarios(existing: list[dict[str, Any]], new: list[dict[str, Any]], replace: bool = False):
    """The quote's scenarios after adding ``new``: a row whose Scenario label matches an existing
    one replaces it in place, the others are added after the existing rows, which are kept
    (all replaced with ``replace``). Returns (rows, counts of added, updated, kept, replaced)."""
    if replace:
        return list(new), dict(added=len(new), updated=0, kept=0, replaced=len(existing))
    rows = list(existing)
    where: dict[str, int] = {}
    for i, row in enumerate(existing):
        label = str(row.get("scenario") or "").strip()
        if label and label not in where:
            where[label] = i
    updated: set[int] = set()
    added = 0
    for row in new:
        label = str(row.get("scenario") or "").strip()
        at = where.get(label) if label else None
        if at is not None and at not in updated:
            rows[at] = row
            updated.add(at)
        else:
            rows.append(row)
            added += 1
    return rows, dict(added=added, updated=len(updated), kept=len(existing) - len(updated), replaced=0)


def put_into_workbook(path: str | Path, scenarios_csv: str | Path, cat: Catalog, replace: bool = False,
                      decimal: str | None = None) -> str:
    """The good rows of a scenarios CSV as a quote's scenarios, inputs as the CSV gives them
    (never a computed result): a new quote, or the existing one refreshed (keeping the user's
    edits) with the rows merged in (``merge_scenarios``). Returns what was done, in one line."""
    from .refresh import read_scenarios, refresh
    from .build import build_workbook, save_atomically

    path = Path(path)
    rows, problems = scenarios_from_csv(str(scenarios_csv), cat, decimal)
    skipped = f"; {len(problems):,} rows with an error left out" if problems else ""
    if not rows:
        raise InvalidValueError(f"The CSV '{scenarios_csv}' has no row the workbook can quote{skipped}. "
                                "See the error column of the results.")
    if path.exists():
        merged, n = merge_scenarios(read_scenarios(path), rows, replace)
        if len(merged) > WORKBOOK_MAX_ROWS:
            raise InvalidValueError(f"{len(merged):,} scenarios are more than a quote workbook holds well "
                                    f"({WORKBOOK_MAX_ROWS:,}). Quote a selection, or use --replace.")
        report = refresh(path, catalog=cat, scenarios=merged)
        what = (f"{n['replaced']:,} replaced by {n['added']:,}" if replace else
                f"{n['added']:,} added, {n['updated']:,} updated, {n['kept']:,} kept")
        return f"Scenarios of {path}: {what}{skipped} (previous version in {report.backup})."
    if len(rows) > WORKBOOK_MAX_ROWS:
        raise InvalidValueError(f"{len(rows):,} good rows are more than a quote workbook holds well "
                                f"({WORKBOOK_MAX_ROWS:,}). Keep the CSV results, or quote a selection.")
    save_atomically(build_workbook(rows, catalog=cat), path)
    return f"Put {len(rows):,} scenarios into a new quote {path}{skipped}."
