"""User catalog files of engines for the tests: a shipped engine's entry under a new id, some fields changed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import llmcalc_xl


def toml_value(v) -> str:
    """A value as TOML writes it (the catalog's entries hold booleans, text, numbers and lists of them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def engine_variant(path: Path, shipped_id: str, new_id: str, name: str, **fields) -> Path:
    """Write to ``path`` a user catalog with the shipped engine ``shipped_id`` under ``new_id`` and ``name``,
    ``fields`` changed (None: the field left out, as if not given). Returns ``path``."""
    shipped = Path(llmcalc_xl.__file__).parent / "catalogs" / "engines.toml"
    entry = next(e for e in tomllib.load(open(shipped, "rb"))["engines"] if e["id"] == shipped_id)
    entry = dict(entry, id=new_id, name=name, aliases=[], **fields)
    path.write_text("[[engines]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items() if v is not None))
    return path
