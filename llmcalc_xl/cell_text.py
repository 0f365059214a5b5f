"""Text bound for a spreadsheet cell, made safe: never a live formula, always valid in a workbook.

Every text cell the tool writes, in a CSV (`fill`, `export`) or a workbook (the quote, `fill
--out .xlsx`, `refresh`), goes through :func:`safe_text`:

- In a CSV, text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP,
  "CSV Injection"): text starting with ``= + - @`` (or their full-width forms), also after
  leading blanks (spaces, no-break spaces, zero-width and control characters, which LibreOffice
  skips), or starting with a tab, CR or LF. Text that is a plain number (``-5``, ``+1.5e3``) is
  not a formula and is left alone, as are numbers.
- In a workbook, text is stored as text (the writer types the cell), so it needs no apostrophe;
  characters that XML 1.0 cannot hold (control characters other than tab, CR and LF, U+FFFE,
  U+FFFF, lone surrogates) become U+FFFD, where they would otherwise stop the file being written.

The rule is written once, as regular expressions that both Python and pyarrow (RE2) read, so
the vectorised path of `fill` (:func:`escape_arrow`) and the single cells agree.
"""

from __future__ import annotations

import re
from typing import Any

#: Characters a spreadsheet may pass over before it looks for a formula sign, as the inside of a
#: regex class: every control, format and separator character of Unicode 14 (categories Cc, Cf,
#: Zs, Zl, Zp: spaces of every width, no-break spaces, zero-width characters, direction marks, the
#: byte-order mark). ASCII is written as escapes and the rest as the characters themselves, which
#: both Python and RE2 read. tests/test_cell_text.py checks it against ``unicodedata``.
_BLANKS = ("\\x00-\\x20\\x7f-\xa0\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u1680\u180e"
           "\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff\ufff9-\ufffb\U000110bd"
           "\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
           "\U000e0020-\U000e007f")
#: The signs that start a formula, in ASCII and full width (an East Asian keyboard types those).
_SIGNS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
#: Text that a spreadsheet would run: a formula sign after any blanks, or a leading tab, CR or LF.
FORMULA_START = f"^(?:[\\t\\r\\n]|[{_BLANKS}]*[{_SIGNS}])"
#: Text that is a plain number, which a spreadsheet reads as that number (never a formula).
PLAIN_NUMBER = f"^[{_BLANKS}]*[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?[{_BLANKS}]*$"
#: Characters XML 1.0 cannot hold.
NOT_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]"

_FORMULA_START = re.compile(FORMULA_START)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
_NOT_XML = re.compile(NOT_XML)
REPLACEMENT = "\ufffd"


def runs_as_formula(text: str) -> bool:
    """Would a spreadsheet that opens this text (a CSV cell) run it as a formula?"""
    return bool(_FORMULA_START.match(text)) and not _PLAIN_NUMBER.match(text)


def safe_text(value: Any, *, csv: bool = False) -> Any:
    """``value`` as it may be written to a CSV cell (``csv=True``) or a workbook cell.

    Anything but text (numbers, booleans, dates, None) is returned unchanged: numbers are never
    escaped. Text for a CSV gets a leading apostrophe when it would run as a formula; text for a
    workbook has the characters XML cannot hold replaced by U+FFFD (the writer stores it as text).
    """
    if not isinstance(value, str):
        return value
    if csv:
        return "'" + value if runs_as_formula(value) else value
    return _NOT_XML.sub(REPLACEMENT, value)


def escape_arrow(column):
    """:func:`safe_text` (``csv=True``) over a pyarrow text column (an array, a chunked array, or
    dictionary-encoded text, whose distinct values are escaped once).

    A formula starts with a sign or a blank, never with a letter or a digit: the rule's regular
    expressions run only on the cells whose first byte is neither (found with numpy in the
    column's own buffers), which in most columns are none at all."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([escape_arrow(chunk) for chunk in column.chunks], column.type)
    if pa.types.is_dictionary(column.type):
        return pa.DictionaryArray.from_arrays(column.indices, escape_arrow(column.dictionary))
    maybe = _first_byte_not_alphanumeric(column)
    if not maybe.any():
        return column
    return _escape_some(column, maybe)


#: Bytes that start a cell that cannot be a formula: ASCII letters and digits.
_ALPHANUMERIC = bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123))


def _first_byte_not_alphanumeric(array):
    """Which cells of a pyarrow string array begin with a byte other than a letter or a digit."""
    import numpy as np
    import pyarrow as pa

    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buffer, data_buffer = array.buffers()
    if offsets_buffer is None or data_buffer is None or not len(array):
        return np.zeros(len(array), dtype=bool)
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts = offsets[:-1]
    filled = np.greater(offsets[1:], starts)
    first = np.take(data, np.where(filled, starts, 0), mode="clip") if len(data) else np.zeros(len(array), np.uint8)
    safe = np.zeros(256, dtype=bool)
    safe[np.frombuffer(_ALPHANUMERIC, dtype=np.uint8)] = True
    return filled & ~np.take(safe, first)


def _escape_some(array, maybe):
    """The array with an apostrophe before each of the ``maybe`` cells that runs as a formula."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(maybe)
    some = array.take(pa.array(rows))
    risky = pc.and_(pc.match_substring_regex(some, FORMULA_START),
                    pc.invert(pc.match_substring_regex(some, PLAIN_NUMBER)))
    risky = risky.fill_null(False).to_numpy(zero_copy_only=False)
    if not risky.any():
        return array
    mask = np.zeros(len(array), dtype=bool)
    mask[rows[risky]] = True
    escaped = pc.binary_join_element_wise(pa.scalar("'", array.type), some.filter(pa.array(risky)),
                                          pa.scalar("", array.type))
    return pc.replace_with_mask(array, pa.array(mask), escaped)
