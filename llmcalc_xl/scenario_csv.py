"""Scenario tables from CSV files as Excel and other systems write them (read by pyarrow).

UTF-8 with or without a byte-order mark, comma, semicolon or tab separators (Excel in many
European locales writes ";"), quoted fields, CRLF line ends, blank trailing lines. Column
names are matched without regard to case, spaces or dashes. Every cell is read as text; the
core turns numbers into numbers and refuses what is not one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .errors import InvalidValueError


def canonical(name: str) -> str:
    """A column name as the CLI option it stands for: "Input Tokens" and "input-tokens" -> input_tokens."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lstrip("\ufeff")).lower()


def delimiter(text: str) -> str:
    """The separator that splits the header line into the most fields (data rows may hold commas
    in quoted text or in numbers like "1,000", so they are no witness)."""
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {sep: len(next(csv.reader([first], delimiter=sep), [])) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def open_table(path: str | Path):
    """A streaming reader of the CSV's text columns, and its header."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    header_row, sep = header(path)
    try:
        reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=sep),
                                convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header_row},
                                                                     strings_can_be_null=False),
                                read_options=pacsv.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid as exc:
        raise InvalidValueError(f"'{path}' is not a readable CSV ({str(exc).splitlines()[0]}).") from None
    return reader, header_row


def header(path: Path) -> tuple[list[str], str]:
    """The header row and the separator; one clear message for a file that is not a scenarios CSV."""
    head = read_text_head(path)
    sep = delimiter(head)
    header = next(csv.reader(io.StringIO(head.splitlines()[0] if head.strip() else ""), delimiter=sep), [])
    header = [h.lstrip("\ufeff") for h in header]
    if not header or not any(h.strip() for h in header):
        raise InvalidValueError(f"'{path}' is empty. Give a header row with at least a model column.")
    if "model" not in {canonical(h) for h in header}:
        raise InvalidValueError(f"'{path}' has no model column (columns found: {', '.join(header[:8])}). "
                                "Add a column named model, e.g. with llama-3-8b or gpt-4o in it.")
    if len({canonical(h) for h in header}) != len(header):
        raise InvalidValueError(f"'{path}' has two columns with the same name ({', '.join(header)}). Keep one.")
    return header, sep


def read_text_head(path: Path, size: int = 65536) -> str:
    """The first bytes of the file as text (checks it is a UTF-8 text file at all)."""
    if not path.exists():
        raise InvalidValueError(f"Scenarios file '{path}' does not exist. Check the path.")
    if path.is_dir():
        raise InvalidValueError(f"Scenarios file '{path}' is a folder. Give the path of a .csv file.")
    with open(path, "rb") as fh:
        raw = fh.read(size)
    if raw[:4] == b"PK\x03\x04":
        raise InvalidValueError(f"'{path}' is a workbook, not a CSV. In Excel use File > Save As > CSV UTF-8.")
    if b"\x00" in raw:
        raise InvalidValueError(f"'{path}' is not a text file. Give a CSV (in Excel: File > Save As > CSV UTF-8).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:  # not just a character cut at the end of the sample
            raise InvalidValueError(f"'{path}' is not UTF-8 text. In Excel use File > Save As > CSV UTF-8.") from None
        return raw[:exc.start].decode("utf-8-sig")


