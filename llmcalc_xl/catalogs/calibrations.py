"""Writing a calibration (``[[calibrations]]``) into a user's catalog file, as ``catalog add-model``
writes a model: appended to the file, or put in place of the table of the same id when replacing."""

from __future__ import annotations

from typing import Any

from .hf_config import _toml_value, with_table

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
    return with_table(text, "calibrations", entry["id"], calibration_toml(entry), replace,
                      f"Calibration '{entry['id']}' ({entry['engine']} on {entry['hardware']}) is already in this "
                      "catalog file. Add --force to replace it, or choose another --out.")
