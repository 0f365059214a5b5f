"""Writing a calibration (``[[calibrations]]``) into a user's catalog file, as ``catalog add-model``
writes a model: appended to the file, or put in place of the table of the same id when replacing."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidValueError
from .hf_config import _tables, _toml_value

#: The fields of a ``[[calibrations]]`` table, in the order the file shows them.
FIELD_ORDER = ("id", "engine", "hardware", "prefill_mfu", "decode_mfu", "decode_mbu", "measurement", "source", "as_of",
               "notes")


def calibration_toml(entry: dict[str, Any]) -> str:
    """One ``[[calibrations]]`` table (fields that are None left out)."""
    lines = ["[[calibrations]]"] + [f"{key} = {_toml_value(entry[key])}" for key in FIELD_ORDER
                                    if entry.get(key) is not None]
    return "\n".join(lines) + "\n"


def with_calibration(text: str, entry: dict[str, Any], replace: bool = False) -> tuple[str, bool]:
    """``text`` (a catalog file) with the calibration appended, or put in place of the ``[[calibrations]]``
    table of the same id when ``replace``. Returns (new text, whether a table was replaced)."""
    import tomllib

    pattern = re.compile(r'^\s*id\s*=\s*["\']' + re.escape(entry["id"]) + r'["\']\s*(#.*)?$', re.M)
    chunks = _tables(text)
    hits = [i for i, c in enumerate(chunks) if c.lstrip().startswith("[[calibrations]]") and pattern.search(c)]
    if hits and not replace:
        raise InvalidValueError(f"Calibration '{entry['id']}' ({entry['engine']} on {entry['hardware']}) is already in "
                                "this catalog file. Add --force to replace it, or choose another --out.")
    new = calibration_toml(entry)
    if hits:
        chunks[hits[0]] = new + ("\n" if hits[0] < len(chunks) - 1 else "")
        for i in reversed(hits[1:]):
            del chunks[i]
        out = "".join(chunks)
    else:
        out = text.rstrip("\n") + ("\n\n" if text.strip() else "") + new
    tomllib.loads(out)  # the result must stay one valid TOML file
    return out, bool(hits)
