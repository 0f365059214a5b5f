"""`llmcalc-xl fill`: price a CSV of scenarios in one vectorised pass.

Every input row comes out, in order, with its columns untouched, then the `estimate --json`
keys (``notes`` joined by "; " in one cell), then ``status`` (ok or error) and ``error`` (the
row's message). A bad row never stops the batch. CSV in and out go through pyarrow (a million rows in seconds); numbers are parsed
in bulk and only the cells that are not numbers get a message of their own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .catalog import Catalog, load_catalog
from .files import replacing
from .errors import InvalidValueError
from .estimate import BOOL_KEYS, INPUT_KEYS, INT_KEYS, NUMBER_OPTIONS, OUTPUT_KEYS, TEXT_OPTIONS, estimate_many
from .inputs import scalar_to_float
from .scenario_csv import canonical, open_table

#: Columns a scenarios CSV may carry (matched without regard to case, spaces or dashes).
OPTION_COLUMNS = TEXT_OPTIONS + tuple(NUMBER_OPTIONS)
RESULT_KEYS = tuple(k for k in INPUT_KEYS if k != "model_kind") + OUTPUT_KEYS
#: A row's notes (e.g. "does not fit: needs 16 GPUs") in one cell, as `estimate --json` lists them.
NOTES_SEPARATOR = "; "
BLOCK_ROWS = 131072


def _numbers_fast(column) -> np.ndarray | None:
    """Floats of a text column when every non-empty cell is a plain number (one cast in C), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(column)
    blanks = pc.equal(trimmed, "")
    try:
        values = pc.cast(pc.if_else(blanks, pa.scalar(None, pa.string()), trimmed), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return values.to_numpy(zero_copy_only=False).astype(float)


def _numbers(name: str, texts: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Floats of a text column (NaN where empty); a message for each cell that is not a number."""
    import pandas as pd

    stripped = pd.Series(texts, dtype=object).str.strip()
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & (stripped.to_numpy() != "")
    if bad.any():
        messages: dict[str, str] = {}
        for i in np.flatnonzero(bad):
            text = texts[i]
            if text not in messages:
                number, err = scalar_to_float(name, text)
                messages[text] = err or f"{name} must be a number, got '{text}'"
            if errors[i] is None:
                errors[i] = messages[text]
    return values


def fill(table, catalog: Catalog | None = None, progress: Callable[[int], Any] | None = None):
    """The results table: the input columns, then the estimate keys and notes, then status and error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cat = catalog or load_catalog()
    n = table.num_rows
    by_key = {canonical(name): name for name in table.column_names}
    errors = np.full(n, None, dtype=object)
    given: dict[str, Any] = {}
    for key in OPTION_COLUMNS:
        if key not in by_key:
            continue
        column = table.column(by_key[key])
        if key in TEXT_OPTIONS:
            given[key] = column.to_numpy(zero_copy_only=False)
        else:
            fast = _numbers_fast(column)
            if fast is not None:
                given[key] = fast
            elif key == "gpus":  # the core reads counts and "auto" (the fewest that fit)
                given[key] = column.to_numpy(zero_copy_only=False)
            else:
                given[key] = _numbers(key, column.to_numpy(zero_copy_only=False), errors)
    if "hardware" not in given:
        given["hardware"] = None
    results: dict[str, np.ndarray] = {}
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        block = {k: (v[start:stop] if isinstance(v, np.ndarray) else v) for k, v in given.items()}
        out = estimate_many(catalog=cat, **block)
        for key in RESULT_KEYS + ("notes", "error"):
            if key not in results:
                results[key] = np.empty(n, dtype=np.asarray(out[key]).dtype)
            results[key][start:stop] = out[key]
        if progress:
            progress(stop - start)
    if n == 0:
        results = {k: np.empty(0, dtype=object) for k in RESULT_KEYS + ("notes", "error")}
    core_errors = results.pop("error")
    errors = np.where(np.equal(errors, None), core_errors, errors)
    failed = ~np.equal(errors, None)
    columns = {name: table.column(name) for name in table.column_names}
    taken = {canonical(name) for name in columns}
    for key in RESULT_KEYS:
        name = f"{key}_result" if key in taken else key  # an input column of that name keeps its own
        columns[name] = _arrow(key, results[key], failed)
    notes = pa.array(np.where(failed, None, results["notes"]), type=pa.string())
    columns["notes_result" if "notes" in taken else "notes"] = pc.replace_substring(notes, "\n", NOTES_SEPARATOR)
    columns["status"] = pa.array(np.where(failed, "error", "ok").astype(object), type=pa.string())
    columns["error"] = pa.array(errors, type=pa.string())
    return pa.table(columns), int(failed.sum())


def _arrow(key: str, values: np.ndarray, failed: np.ndarray):
    """A result column as pyarrow: ints and booleans with gaps, text for ids, floats otherwise."""
    import pyarrow as pa

    if values.dtype == object:
        return pa.array(np.where(failed, None, values), type=pa.string())
    values = np.asarray(values, dtype=float)
    gaps = np.isnan(values) | failed
    if key in BOOL_KEYS:
        return pa.array(values > 0, mask=gaps, type=pa.bool_())
    if key in INT_KEYS:
        return pa.array(np.where(gaps, 0, values).astype(np.int64), mask=gaps, type=pa.int64())
    finite = np.where(np.isinf(values), np.nan, values)
    return pa.array(finite, mask=gaps | np.isnan(finite), type=pa.float64())


def _escaped(table):
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP); numbers never."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_string(col.type):
            risky = pc.match_substring_regex(col, r"^[=+\-@\t\r\n]")
            col = pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def fill_file(src: str | Path, out: str | Path, catalog: Catalog | None = None,
              progress: Callable[[int], Any] | None = None, keep: Callable[[Any], None] | None = None):
    """Price ``src`` into ``out`` (.csv streamed block by block, .xlsx at once); (rows, failed rows).

    ``keep(result_block)`` sees each priced block (for --workbook). Memory stays flat for CSV:
    a block of rows is read, priced and written before the next is read.
    """
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidValueError(f"Output '{out}' must end in .csv or .xlsx.")
    table_reader, header = open_table(src)
    cat = catalog or load_catalog()
    with replacing(out) as tmp:
        return _fill_into(str(tmp), out.suffix.lower(), table_reader, header, src, cat, progress, keep)


def _fill_into(tmp: str, suffix: str, table_reader, header, src, cat, progress, keep) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = failed = 0
    blocks = []
    writer = None
    # pyarrow writes CSV without the GIL: a writer thread overlaps writing a block with pricing the next
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=1)
    pending = None
    try:
        while True:
            try:
                batch = table_reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise InvalidValueError(f"'{src}' is not a readable CSV near row {rows + 2:,} "
                                        f"({str(exc).splitlines()[0]}).") from None
            result, bad = fill(pa.Table.from_batches([batch]), cat)
            rows += result.num_rows
            failed += bad
            if keep:
                keep(result)
            if suffix == ".csv":
                escaped = _escaped(result)
                if writer is None:
                    writer = pacsv.CSVWriter(tmp, escaped.schema)
                if pending is not None:
                    pending.result()  # blocks stay in order
                pending = pool.submit(writer.write_table, escaped)
            else:
                blocks.append(result)
                if rows > 1_048_575:
                    raise InvalidValueError("More than 1,048,575 rows do not fit an Excel sheet. Write a .csv.")
            if progress:
                progress(result.num_rows)
        if pending is not None:
            pending.result()
            pending = None
        if suffix == ".csv":
            if writer is None:  # no data rows: the header alone
                empty, _ = fill(pa.table({h: pa.array([], pa.string()) for h in header}), cat)
                writer = pacsv.CSVWriter(tmp, empty.schema)
            writer.close()
            writer = None
        else:
            table = pa.concat_tables(blocks) if blocks else fill(
                pa.table({h: pa.array([], pa.string()) for h in header}), cat)[0]
            _write_xlsx(table, tmp)
    finally:
        if pending is not None:
            pending.exception()  # let a block in flight finish before the file is closed
        pool.shutdown(wait=True)
        if writer is not None:
            writer.close()
    return rows, failed


def count_rows(path: str | Path) -> int:
    """Roughly how many data rows (line ends), for a progress bar."""
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            n += chunk.count(b"\n")
    return max(n - 1, 0)


def _write_xlsx(table, path: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Results")
    bold = Font(bold=True)
    header = []
    for name in table.column_names:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    columns = [table.column(name).to_pylist() for name in table.column_names]
    for values in zip(*columns):
        row = []
        for v in values:
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = None
            cell = WriteOnlyCell(ws, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # text from the CSV is never a formula
            row.append(cell)
        ws.append(row)
    wb.save(path)
