"""Scenario tables from CSV files as Excel and other systems write them (read by pyarrow).

UTF-8 with or without a byte-order mark, comma, semicolon or tab separators (Excel in many
European locales writes ";"), quoted fields, CRLF line ends, blank trailing lines. Column
names are matched without regard to case, spaces or dashes. Every cell is read as text;
:func:`read_number` turns the numbers of option columns into numbers.

Decimal marks: a file separated by ";" is what Excel writes where the comma is the decimal
mark, so there "1,85" is 1.85; elsewhere the point is ("--decimal" forces either). A number
that reads two ways ("2.000": 2000 with a thousands point, or 2) is refused with both
readings rather than guessed.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from pathlib import Path
from typing import Any, Iterable

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


def open_table(path: str | Path, block_bytes: int = 1 << 24):
    """A streaming reader of the CSV's text columns (in blocks of about ``block_bytes`` of the
    file), and its header."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    header_row, sep = header(path)
    try:
        reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=sep),
                                convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header_row},
                                                                     strings_can_be_null=False),
                                read_options=pacsv.ReadOptions(block_size=block_bytes))
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




# --- numbers as people write them ---------------------------------------------------------------

DECIMAL_MARKS = (".", ",")
_EXPONENT = r"(?:[eE][+-]?[0-9]+)?"
_PLAIN = {".": re.compile(rf"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+){_EXPONENT}$"),
          ",": re.compile(rf"^[+-]?(?:[0-9]+,?[0-9]*|,[0-9]+){_EXPONENT}$")}
#: Thousands groups with the other mark: 1,000 and 1,234.5 (point decimals); 1.000 and 1.234,5 (comma).
_GROUPED = {".": re.compile(r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$"),
            ",": re.compile(r"^[+-]?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]*)?$")}


def decimal_mark(separator: str, forced: str | None = None) -> str:
    """The decimal mark of a CSV: the one given, else "," for a ";"-separated file, else "."."""
    if forced is not None:
        if forced not in DECIMAL_MARKS:
            raise InvalidValueError(f"Decimal mark '{forced}' must be . or ,. Give --decimal . or --decimal ,")
        return forced
    return "," if separator == ";" else "."


def file_decimal_mark(path: str | Path, forced: str | None = None) -> str:
    """The decimal mark of the scenarios CSV at ``path`` (see :func:`decimal_mark`)."""
    return decimal_mark(header(Path(path))[1], forced)


def _shown(value: float, decimal: str) -> str:
    text = f"{value:.15g}"
    return text.replace(".", ",") if decimal == "," else text


def read_number(name: str, text: str | None, decimal: str = ".", word: str = "") -> tuple[float, str | None]:
    """(number, error) of a CSV cell; an empty cell is (NaN, None): not given. ``word``: what else the
    option takes ("max"), named in the message for other text.

    ``decimal`` is the file's decimal mark. A number written with the other mark where it can
    only be a decimal ("2.5" in a comma file) is read; thousands separators are refused, with
    both readings where the number could be either ("2.000", "1,000").
    """
    t = (text or "").strip()
    if not t:
        return math.nan, None
    other = "," if decimal == "." else "."
    if _PLAIN[decimal].match(t):
        return float(t.replace(",", ".")), None
    grouped = _GROUPED[decimal].match(t)
    if grouped and t.count(other) == 1 and decimal not in t:
        as_thousands, as_decimal = float(t.replace(other, "")), float(t.replace(other, "."))
        return math.nan, (f"{name} '{t}' could be {_shown(as_thousands, decimal)} ('{other}' separating thousands) "
                          f"or {_shown(as_decimal, decimal)} ('{other}' as decimal mark). Write "
                          f"{_shown(as_thousands, decimal)} or {_shown(as_decimal, decimal)}"
                          + (", or give --decimal ." if decimal == "," else ", or give --decimal , for a file "
                                                                             "with decimal commas"))
    if grouped:
        plain = t.replace(other, "")
        return math.nan, (f"{name} must be a plain number, got '{t}'. Write it without thousands separators, "
                          f"e.g. {plain}")
    if _PLAIN[other].match(t):
        if other == ".":  # "2.5" in a decimal-comma file: a point can only be a decimal mark here
            return float(t), None
        return math.nan, (f"{name} must use a decimal point, got '{t}'. Write {t.replace(',', '.')}, or give "
                          "--decimal , for a file with decimal commas")
    return math.nan, f"{name} must be a number{f' or {word}' if word else ''}, got '{t if len(t) <= 40 else t[:37] + '...'}'"


def typed_row(record: dict[str, Any], keys: Iterable[str], text_keys: Iterable[str],
              decimal: str = ".", words: dict[str, str] | None = None) -> tuple[dict[str, Any], str | None]:
    """(row, first error): the ``keys`` of a CSV record as values, text trimmed, numbers read with
    :func:`read_number`, empty cells None. A cell that is not a number stays as it is. ``words``:
    number options that also take a word (batch: "max"), kept as that word."""
    words = words or {}
    text_keys = set(text_keys)
    row: dict[str, Any] = {}
    error: str | None = None
    for key in keys:
        value = record.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            row[key] = None
        elif key in text_keys or not isinstance(value, str):
            row[key] = value.strip() if isinstance(value, str) else value
        elif key == "gpus" and value.strip().lower() == "auto":
            row[key] = "auto"  # the fewest that fit, resolved by the core
        elif key in words and value.strip().lower() == words[key]:
            row[key] = words[key]  # batch "max": resolved by the core
        else:
            number, err = read_number(key, value, decimal, words.get(key, ""))
            error = error or err
            row[key] = value if err else (int(number) if number.is_integer() and abs(number) < 2 ** 53 else number)
    return row, error


# --- columns that are not options ---------------------------------------------------------------

#: Names people give columns for an option (matched after :func:`canonical`).
SYNONYMS = {
    "hw": "hardware", "device": "hardware", "gpu": "hardware", "gpu_type": "hardware", "accelerator": "hardware",
    "gpu_count": "gpus", "num_gpus": "gpus", "n_gpus": "gpus", "gpu_number": "gpus",
    "tp_size": "tp", "tensor_parallel": "tp", "dp_size": "dp", "attention_dp_size": "dp", "ep_size": "ep",
    "expert_parallel": "ep", "moe_ep_size": "ep",
    "prompt": "input_tokens", "prompt_tokens": "input_tokens", "input": "input_tokens", "tokens_in": "input_tokens",
    "completion": "output_tokens", "completion_tokens": "output_tokens", "output": "output_tokens",
    "tokens_out": "output_tokens", "max_tokens": "output_tokens",
    "quantization": "precision", "quant": "precision", "dtype": "precision",
    "batch_size": "batch", "concurrency": "batch", "context": "context_tokens", "ctx": "context_tokens",
    "requests": "requests_per_month", "rpm": "requests_per_month", "monthly_requests": "requests_per_month",
    "price": "price_per_hour", "usd_per_hour": "price_per_hour", "latency": "latency_s",
    "backend": "engine", "runtime": "engine", "llm": "model", "model_id": "model", "label": "scenario",
    "name": "scenario", "description": "scenario",
}


def closest_option(name: str, options: Iterable[str]) -> str | None:
    """The option a column name most likely meant: a known synonym, a near spelling, a shared
    word ("GPU count" and gpus) or an abbreviation ("HW" and hardware); None if nothing is close."""
    options = list(options)
    key = canonical(name)
    if not key:
        return None
    if SYNONYMS.get(key) in options:
        return SYNONYMS[key]
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.75)
    if close:
        return close[0]
    words = {w.rstrip("s") for w in key.split("_") if len(w) > 1}
    shared = [o for o in options if words & {w.rstrip("s") for w in o.split("_") if len(w) > 1}]
    if len(shared) == 1:
        return shared[0]
    letters = key.replace("_", "")
    abbreviated = [o for o in options if o[0] == letters[0] and _subsequence(letters, o.replace("_", ""))]
    if len(abbreviated) == 1 and len(letters) >= 2:
        return abbreviated[0]
    return None


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def unused_columns(header_row: Iterable[str], options: Iterable[str], ignore: Iterable[str] = ()) -> str | None:
    """The columns that are not options, each with the closest option name, as text for one
    warning line ("'HW' (did you mean hardware?), 'owner'"), or None when every column is read.

    ``ignore`` holds canonical names that are expected without being options (a results file's
    own columns, for instance)."""
    options = list(options)
    skip = set(options) | set(ignore)
    named = []
    for h in header_row:
        if canonical(h) not in skip:
            near = closest_option(h, options)
            named.append(f"'{h}'" + (f" (did you mean {near}?)" if near else ""))
    return ", ".join(named) or None
