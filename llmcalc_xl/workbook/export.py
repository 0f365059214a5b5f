"""`llmcalc-xl export`: the Scenarios sheet of a quote workbook as CSV.

The values are those the file stores: computed by `llmcalc-xl build`, or last calculated
and saved by a spreadsheet (Excel, LibreOffice). A workbook from a tool that stores formulas
only is refused with the fix, rather than exported as blanks.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from . import formulas as F
from ..cell_text import safe_text
from ..files import open_workbook, replacing, unreadable
from ..errors import InvalidValueError, LlmcalcError
from .build import FIRST_ROW, _Layout

def scenario_values(path: str | Path) -> list[dict[str, Any]]:
    """Inputs and last-calculated results of every scenario row, keyed as `estimate --json`."""
    path = Path(path)
    wb = open_workbook(path, data_only=True, read_only=True)
    try:
        return _rows(wb, path)
    except LlmcalcError:
        raise
    except Exception as exc:  # read-only openpyxl parses while iterating: a damaged sheet fails here
        raise unreadable(path, "Workbook", exc) from exc
    finally:
        wb.close()


def _rows(wb, path: Path) -> list[dict[str, Any]]:
    if "Scenarios" not in wb.sheetnames:
        raise InvalidValueError(f"'{path}' has no Scenarios sheet. Give a workbook made by `llmcalc-xl build`.")
    ws = wb["Scenarios"]
    layout = _Layout()
    from openpyxl.utils import column_index_from_string as index

    columns = ([(input_name(k), index(layout.input_col[k])) for k in F.INPUT_KEYS]
               + [("check", index(layout.check_col))] + [(k, index(layout.output_col[k])) for k in F.OUTPUT_KEYS])
    rows, uncalculated = [], 0
    for values in ws.iter_rows(min_row=FIRST_ROW, max_col=max(c for _, c in columns), values_only=True):
        record = {k: (values[c - 1] if c - 1 < len(values) else None) for k, c in columns}
        if record["model"] in (None, ""):
            continue
        if all(record[k] is None for k in F.OUTPUT_KEYS):
            uncalculated += 1
        rows.append(record)
    if rows and uncalculated == len(rows):
        raise InvalidValueError(f"'{path}' has never been calculated: it holds formulas but no results. Open it "
                                "in Excel or LibreOffice, save it, and export again (or run: soffice --headless "
                                f"--convert-to xlsx --outdir calculated {path.name}).")
    return rows


def input_name(key: str) -> str:
    """An input's column name; an input that shares its name with a result (latency_s) gets _input."""
    return f"{key}_input" if key in F.OUTPUT_KEYS else key


def write_csv(rows: list[dict[str, Any]], out: str | Path | None) -> str | None:
    """CSV text with canonical column names; text cells that a spreadsheet would run are escaped."""
    names = [input_name(k) for k in F.INPUT_KEYS] + ["check"] + list(F.OUTPUT_KEYS)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow([_csv_cell(r.get(k)) for k in names])
    text = buf.getvalue()
    if out is None:
        return text
    with replacing(out) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return None


def _csv_cell(value: Any) -> Any:
    return "" if value is None else safe_text(value, csv=True)  # text only; numbers are written as numbers
