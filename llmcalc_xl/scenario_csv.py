"""Scenario tables from CSV files as Excel and other systems write them.

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


def read_text(path: str | Path) -> str:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidValueError(f"Scenarios file '{path}' does not exist. Check the path.") from None
    except IsADirectoryError:
        raise InvalidValueError(f"Scenarios file '{path}' is a folder. Give the path of a .csv file.") from None
    if raw[:4] == b"PK\x03\x04":
        raise InvalidValueError(f"'{path}' is a workbook, not a CSV. In Excel use File > Save As > "
                                "CSV UTF-8 (comma delimited).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValueError(f"'{path}' is not UTF-8 text. In Excel use File > Save As > "
                                "CSV UTF-8 (comma delimited).") from None


def delimiter(text: str) -> str:
    """The separator that splits the header line into the most fields (data rows may hold commas
    in quoted text or in numbers like "1,000", so they are no witness)."""
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {sep: len(next(csv.reader([first], delimiter=sep), [])) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def read_scenarios(path: str | Path):
    """A pandas DataFrame of text cells with canonical column names (a ``model`` column is required)."""
    import pandas as pd

    text = read_text(path)
    if not text.strip():
        raise InvalidValueError(f"Scenarios file '{path}' is empty. Give a header row with at least a model column.")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter(text), dtype=str, keep_default_na=False,
                            skip_blank_lines=True, skipinitialspace=True)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InvalidValueError(f"'{path}' is not a readable CSV ({str(exc).splitlines()[0]}).") from None
    frame.columns = [canonical(c) for c in frame.columns]
    if "model" not in frame.columns:
        found = ", ".join(frame.columns[:8]) or "none"
        raise InvalidValueError(f"'{path}' has no model column (columns found: {found}). Add a column named "
                                "model, e.g. with llama-3-8b or gpt-4o in it.")
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise InvalidValueError(f"'{path}' has the column '{dupes[0]}' twice. Keep one.")
    return frame
