"""`llmcalc-xl fill`: price a CSV of scenarios in one vectorised pass.

Every input row comes out, in order, with its columns untouched, then the `estimate --json`
keys (``notes`` joined by "; " in one cell), then ``status`` (ok or error) and ``error`` (the
row's message). A bad row never stops the batch. CSV is read with pyarrow and written with polars (a million rows in seconds); numbers are parsed
in bulk and only the cells that are not numbers get a message of their own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..catalogs.loader import Catalog, load_catalog
from ..cell_text import escape_arrow, safe_text
from ..files import replacing
from ..errors import InvalidValueError
from ..core.estimate import (BOOL_KEYS, INPUT_KEYS, INT_KEYS, NUMBER_OPTIONS, OUTPUT_KEYS, TEXT_OPTIONS, WORD_OPTIONS,
                             estimate_many, joined_codes)
from ..core.inputs import NONE, length_of
from ..core.resolve import Coded, factorize
from ..scenario_csv import canonical, decimal_mark, header, open_table, read_number, unused_columns

#: Columns a scenarios CSV may carry (matched without regard to case, spaces or dashes).
OPTION_COLUMNS = TEXT_OPTIONS + tuple(NUMBER_OPTIONS)
RESULT_KEYS = tuple(k for k in INPUT_KEYS if k != "model_kind") + OUTPUT_KEYS
#: The horizon forecast's columns, after the results, when `fill --compare-api-model` names an API model.
HORIZON_KEYS = ("horizon_cost_usd", "horizon_cost_api_usd", "npv_usd", "npv_api_usd", "crossover_month")
#: A row's notes (e.g. "does not fit: needs 16 GPUs") in one cell, as `estimate --json` lists them.
NOTES_SEPARATOR = "; "
#: Columns of a results file that are expected in its input again, without being options.
RESULT_COLUMNS = (("scenario", "status", "error", "notes", "notes_result", "status_result", "error_result")
                  + RESULT_KEYS + tuple(f"{k}_result" for k in RESULT_KEYS))
BLOCK_ROWS = 131072
#: Bytes of the input read, priced and written at a time: blocks of about 80,000 rows keep
#: memory flat, and small enough that writing the last block adds little after pricing ends.
READ_BYTES = 1 << 22


def _numbers_fast(column, decimal: str = ".") -> np.ndarray | None:
    """Floats of a text column when every non-empty cell is a plain number (one cast in C), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if decimal == "." and column.null_count == 0:
        try:  # plain numbers in every cell: one cast (blanks and spaces make it fail: trimmed below)
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return None if np.isnan(values).any() else values  # "nan" typed in a cell: the slow path says so
    trimmed = pc.utf8_trim_whitespace(column)
    blanks = pc.equal(trimmed, "")
    if decimal == ",":
        if pc.any(pc.match_substring(trimmed, ".")).as_py():
            return None  # a point in a decimal-comma file may separate thousands: cell by cell
        trimmed = pc.replace_substring(trimmed, ",", ".")
    try:
        values = pc.cast(pc.if_else(blanks, pa.scalar(None, pa.string()), trimmed), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = values.to_numpy(zero_copy_only=False).astype(float)
    if np.isnan(values[~blanks.to_numpy(zero_copy_only=False)]).any():
        return None  # "nan" typed in a cell is not a number: the slow path says so
    return values


def _numbers(name: str, texts: np.ndarray, errors: np.ndarray, decimal: str = ".", word: str = "") -> np.ndarray:
    """Floats of a text column (NaN where empty); a message for each cell that is not a number (nor
    ``word``, where the option takes one)."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=True)
    parsed = [read_number(name, text, decimal, word) for text in uniques]
    numbers = np.array([number for number, _ in parsed] + [math.nan], dtype=float)
    messages = np.array([err for _, err in parsed] + [None], dtype=object)
    bad = messages[codes]  # code -1 (a missing cell) takes the last: NaN, no message
    todo = ~np.equal(bad, NONE) & np.equal(errors, NONE)
    errors[todo] = bad[todo]
    return numbers[codes]


def _gpus(texts: np.ndarray, errors: np.ndarray, decimal: str, name: str = "gpus", word: str = "auto") -> np.ndarray:
    """The gpus column: "auto" cells as they are (the core resolves them), the others as numbers; the
    same for another option's word (batch "max")."""
    auto = np.array([isinstance(t, str) and t.strip().lower() == word for t in texts.tolist()], dtype=bool)
    numbers = _numbers(name, np.where(auto, NONE, texts), errors, decimal, "" if name == "gpus" else word)
    return np.where(auto, word, numbers.astype(object))


def fill(table, catalog: Catalog | None = None, progress: Callable[[int], Any] | None = None, decimal: str = ".",
         compare_api_model: str | None = None):
    """The results table: the input columns, then the estimate keys (with ``compare_api_model``, then
    the horizon forecast's keys against that API model) and notes, then status and error.

    ``decimal`` is the decimal mark of the number columns ("." or ",")."""
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
            given[key] = _categories(column)
        else:
            fast = _numbers_fast(column, decimal)
            if fast is not None:
                given[key] = fast
            elif key == "gpus":  # the core reads counts and "auto" (the fewest that fit)
                given[key] = _gpus(column.to_numpy(zero_copy_only=False), errors, decimal)
            elif key in WORD_OPTIONS:  # counts and a word: batch "max" (the largest batch that fits)
                given[key] = _gpus(column.to_numpy(zero_copy_only=False), errors, decimal, key, WORD_OPTIONS[key])
            else:
                given[key] = _numbers(key, column.to_numpy(zero_copy_only=False), errors, decimal)
    if "hardware" not in given:
        given["hardware"] = None
    results: dict[str, Any] = {}
    coded: dict[str, list[Coded]] = {}
    step = BLOCK_ROWS if progress else max(n, 1)  # blocks only to report progress
    for start in range(0, n, step):
        stop = min(start + step, n)
        block: dict[str, Any] = {k: (_rows(v, start, stop) if length_of(v) is not None else v)
                                 for k, v in given.items()}
        # the texts as codes into their names: each name is converted (and escaped) once
        out = estimate_many(catalog=cat, coded_text=True, **block)
        if stop - start == n:
            results = {key: out[key] for key in RESULT_KEYS + ("notes", "error")}
        for key in RESULT_KEYS + ("notes", "error"):
            if stop - start == n:
                break
            if isinstance(out[key], Coded):
                coded.setdefault(key, []).append(out[key])
                continue
            if key not in results:
                results[key] = np.empty(n, dtype=np.asarray(out[key]).dtype)
            results[key][start:stop] = out[key]
        if progress:
            progress(stop - start)
    results.update({key: joined_codes(parts) for key, parts in coded.items()})
    if n == 0:
        results = {k: np.empty(0, dtype=object) for k in RESULT_KEYS + ("notes", "error")}
    core_errors = results.pop("error")
    errors = np.where(np.equal(errors, NONE), core_errors, errors)
    horizon: dict[str, np.ndarray] = {}
    if compare_api_model is not None:
        from ..core.plan import horizon_many

        with_rows = {k: v for k, v in given.items() if k != "hardware"} if n else {}
        horizon = horizon_many(compare_api_model, hardware=given["hardware"], catalog=cat, **with_rows) if n else \
            {k: np.empty(0) for k in HORIZON_KEYS}
    failed = ~np.equal(errors, NONE)
    columns = {name: table.column(name) for name in table.column_names}
    taken = {canonical(name) for name in columns}

    def put(key: str, column) -> None:
        columns[result_name(key, taken)] = column

    for key in RESULT_KEYS:
        put(key, _arrow(key, results[key], failed))
    for key in HORIZON_KEYS if compare_api_model is not None else ():
        put(key, _arrow(key, horizon[key], failed))
    notes = _text(results["notes"], failed)
    put("notes", pa.DictionaryArray.from_arrays(notes.indices,
                                                pc.replace_substring(notes.dictionary, "\n", NOTES_SEPARATOR)))
    put("status", pa.DictionaryArray.from_arrays(pa.array(failed.astype(np.int8)), pa.array(["ok", "error"])))
    put("error", _text(errors, np.zeros(n, dtype=bool)))
    return pa.table(columns), int(failed.sum())


def result_name(key: str, taken: set[str]) -> str:
    """The column a result goes in: its key, or where the CSV has a column of that name (``taken``:
    canonical names), ``<key>_result`` (then ``_result_2``, ...), so that no column of the CSV is
    written over (a results file fed in again gets the new results beside the old)."""
    name, more = key, 1
    while name in taken:
        name, more = f"{key}_result" + (f"_{more}" if more > 1 else ""), more + 1
    return name


def _arrow(key: str, values: np.ndarray, failed: np.ndarray):
    """A result column as pyarrow: ints and booleans with gaps, text for ids, floats otherwise."""
    import pyarrow as pa

    if isinstance(values, Coded) or values.dtype == object:
        return _text(values, failed)
    values = np.asarray(values, dtype=float)
    if key in BOOL_KEYS or key in INT_KEYS:
        gaps = np.isnan(values) | failed
        if key in BOOL_KEYS:
            return pa.array(values > 0, mask=gaps, type=pa.bool_())
        return pa.array(np.where(gaps, 0, values).astype(np.int64), mask=gaps, type=pa.int64())
    gaps = ~np.isfinite(values)  # infinity: a gap too
    if failed.any():
        gaps |= failed
    return pa.array(values, mask=gaps, type=pa.float64())


def _text(values: np.ndarray | Coded, gaps: np.ndarray):
    """Text (None: a gap) as dictionary-encoded pyarrow: the ids, notes and messages of a million
    rows are a few distinct texts, each converted (and escaped for the CSV) once."""
    import pyarrow as pa

    codes, uniques = (values.codes, values.uniques) if isinstance(values, Coded) else factorize(values)
    missing = np.asarray([u is None or not isinstance(u, str) for u in uniques], dtype=bool)
    indices = pa.array(codes.astype(np.int32), mask=gaps | np.take(missing, codes) if missing.any() or gaps.any() else None)
    return pa.DictionaryArray.from_arrays(indices, pa.array([u if isinstance(u, str) else None for u in uniques],
                                                            type=pa.string()))


def _categories(column):
    """A text column as a pandas categorical: the core resolves each distinct name once, and no
    Python text is made per cell."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return pd.Series(pd.Categorical.from_codes(codes, categories=encoded.dictionary.to_pylist()))


def _rows(column: Any, start: int, stop: int) -> Any:
    return column.iloc[start:stop] if hasattr(column, "iloc") else column[start:stop]


def _escaped(table):
    """The table as a CSV may hold it: text that a spreadsheet would run as a formula, in the header
    and in every text cell, gets a leading apostrophe (cell_text.safe_text); numbers never."""
    import pyarrow as pa

    def text(kind):
        return pa.types.is_string(kind) or (pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type))

    columns = [escape_arrow(col) if text(col.type) else col for col in table.columns]
    return pa.table(columns, names=[safe_text(name, csv=True) for name in table.column_names])


def fill_file(src: str | Path, out: str | Path, catalog: Catalog | None = None,
              progress: Callable[[int], Any] | None = None, decimal: str | None = None, warn: Callable[[str], Any] | None = None,
              compare_api_model: str | None = None):
    """Price ``src`` into ``out`` (.csv streamed block by block, .xlsx at once); (rows, failed rows).

    Memory stays flat for CSV:
    a block of rows is read, priced and written before the next is read. ``decimal`` forces the
    decimal mark (default: "," in a ";"-separated file, else "."); ``warn`` is told, in one line,
    of columns that are not options (they are carried through unused). ``compare_api_model``: add the
    horizon forecast's columns against this API model (``plan.horizon_many``).
    """
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidValueError(f"Output '{out}' must end in .csv or .xlsx.")
    header_row, separator = header(Path(src))
    mark = decimal_mark(separator, decimal)
    table_reader, header_row = open_table(src, READ_BYTES)
    unused = unused_columns(header_row, OPTION_COLUMNS + ("scenario",), RESULT_COLUMNS)
    if unused and warn:
        warn(f"Warning: columns not used, carried through unchanged: {unused}. Only columns named as an option "
             "are read.")
    results = RESULT_KEYS + ("notes", "status", "error") + (HORIZON_KEYS if compare_api_model is not None else ())
    own = [name for name in header_row if canonical(name) in results and canonical(name) not in OPTION_COLUMNS]
    if own and warn:
        quoted = ", ".join(f"'{name}'" for name in own)
        warn(f"Note: the CSV's own columns {quoted} keep their values; the results "
             "of those names are written with a _result suffix.")
    cat = catalog or load_catalog()
    with replacing(out) as tmp:
        return _fill_into(str(tmp), out.suffix.lower(), table_reader, header_row, src, cat, progress, mark,
                          compare_api_model)


def _fill_into(tmp: str, suffix: str, table_reader, header, src, cat, progress, decimal,
               compare_api_model: str | None = None) -> tuple[int, int]:
    import pyarrow as pa

    rows = failed = 0
    blocks = []
    # polars writes CSV without the GIL: writer threads turn blocks into text (each block in
    # parts, for the cores) while the next block is priced; the parts reach the file in order
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=WRITE_PARTS)
    parts: deque = deque()
    out = open(tmp, "wb") if suffix == ".csv" else None

    def write_parts(keep: int) -> None:
        while len(parts) > keep and out is not None:
            out.write(parts.popleft().result())

    try:
        while True:
            try:
                batch = table_reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise InvalidValueError(f"'{src}' is not a readable CSV near row {rows + 2:,} "
                                        f"({str(exc).splitlines()[0]}).") from None
            result, bad = fill(pa.Table.from_batches([batch]), cat, decimal=decimal,
                               compare_api_model=compare_api_model)
            if suffix == ".csv":
                escaped = _escaped(result)
                edges = [escaped.num_rows * i // WRITE_PARTS for i in range(WRITE_PARTS + 1)]
                for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
                    parts.append(pool.submit(_csv_text, escaped.slice(lo, hi - lo), rows == 0 and i == 0))
                write_parts(keep=2 * WRITE_PARTS)  # at most two blocks in memory as text
            else:
                blocks.append(result)
                if rows + result.num_rows > 1_048_575:
                    raise InvalidValueError("More than 1,048,575 rows do not fit an Excel sheet. Write a .csv.")
            rows += result.num_rows
            failed += bad
            if progress:
                progress(result.num_rows)
        if suffix == ".csv":
            if not rows:  # no data rows: the header alone
                empty, _ = fill(pa.table({h: pa.array([], pa.string()) for h in header}), cat,
                                compare_api_model=compare_api_model)
                parts.append(pool.submit(_csv_text, _escaped(empty), True))
            write_parts(keep=0)
        else:
            table = pa.concat_tables(blocks) if blocks else fill(
                pa.table({h: pa.array([], pa.string()) for h in header}), cat, compare_api_model=compare_api_model)[0]
            _write_xlsx(table, tmp, decimal)
    finally:
        for part in parts:
            part.cancel()
        pool.shutdown(wait=True)  # a part in flight finishes before the file is closed
        if out is not None:
            out.close()
    return rows, failed


#: Parts each block of results is written in, on as many threads.
WRITE_PARTS = 2


def _csv_text(table, with_header: bool):
    """The table as CSV (UTF-8 bytes, fields quoted where they must be), with or without the header line.

    polars writes it: its shortest round-trip float text takes about half the CPU time of
    pyarrow's CSV writer, and the floats are most of the output. Its text differs from pyarrow's
    in form only: a whole float keeps a ".0" ("4.0"), a text cell is quoted only when it holds a
    separator, a quote or a line end. The header goes through the csv module, as polars wants the
    names unique and an escaped name may equal another column's."""
    import csv
    import io

    import polars as pl

    buffer = io.BytesIO()
    if with_header:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(table.column_names)
        buffer.write(line.getvalue().encode("utf-8"))
    if table.num_rows:
        pl.DataFrame(table.rename_columns([str(i) for i in range(table.num_columns)])).write_csv(
            buffer, include_header=False)
    return buffer.getbuffer()


def count_rows(path: str | Path) -> int:
    """Roughly how many data rows (line ends), for a progress bar."""
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            n += chunk.count(b"\n")
    return max(n - 1, 0)


def _write_xlsx(table, path: str, decimal: str = ".") -> None:
    """The results as one sheet: text stored as text (never a formula, made safe for XML), numbers
    as numbers, including the numbers of the input's option columns (text ids stay text)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Results")
    bold = Font(bold=True)
    inputs = table.num_columns - len(RESULT_KEYS) - 2  # the input columns come first
    number_inputs = {i for i, name in enumerate(table.column_names[:inputs])
                     if canonical(name) in OPTION_COLUMNS and canonical(name) not in TEXT_OPTIONS}

    def text_cell(value):
        cell = WriteOnlyCell(ws, value=safe_text(value))
        cell.data_type = "s"  # text is never a formula
        return cell

    header = []
    for name in table.column_names:
        cell = text_cell(name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    columns = [table.column(name).to_pylist() for name in table.column_names]
    for values in zip(*columns):
        row = []
        for i, v in enumerate(values):
            if i in number_inputs and isinstance(v, str):
                number, err = read_number("", v, decimal)
                if err is None and math.isfinite(number):
                    v = int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = None
            row.append(text_cell(v) if isinstance(v, str) else WriteOnlyCell(ws, value=v))
        ws.append(row)
    wb.save(path)
