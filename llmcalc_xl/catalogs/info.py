"""The catalogs as values and tables, for any surface that shows them (Excel functions, CLI)."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import numpy as np

from .loader import Catalog, load_catalog, normalize
from ..errors import InvalidValueError, UnknownIdError

MODEL_COLUMNS = ("id", "kind", "name", "params_b", "active_params_b", "context_length", "input_usd_per_mtok",
                 "cached_input_usd_per_mtok", "output_usd_per_mtok", "source", "as_of")
HARDWARE_COLUMNS = ("id", "name", "kind", "memory_gib", "bandwidth_gb_s", "tflops_fp16", "tflops_fp8",
                    "price_usd_per_hour", "price_provider", "price_as_of", "source", "as_of")
GROUPS = ("models", "api_models", "hardware", "engines", "precisions")


def _value(entry: Any, field: str) -> Any:
    value = getattr(entry, field)
    if isinstance(value, tuple):  # aliases, or a price schedule (periods that describe themselves)
        return "; ".join(v if isinstance(v, str) else v.describe() for v in value)
    if isinstance(value, dict):  # checkpoints: repo -> precision
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return value


def find_entry(cat: Catalog, name: str) -> tuple[str, Any]:
    """(group, entry) for an id or alias of any catalog; UnknownIdError with suggestions."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownIdError("id is empty. Give a catalog id such as h100-sxm or llama-3-8b.")
    for group, kinds in (("models", ("models", "api_models")), ("hardware", ("hardware",)),
                         ("engines", ("engines",)), ("precisions", ("precisions",))):
        pos = cat.table(group).position(name)
        if pos >= 0:
            entry = cat.table(group).rows[pos]
            return ("api_models" if getattr(entry, "kind", "") == "api" else kinds[0]), entry
    keys = {normalize(e.id): e.id for g in GROUPS for e in cat.entries(g)}
    close = [keys[k] for k in difflib.get_close_matches(normalize(name), list(keys), n=3, cutoff=0.5)]
    hint = f"Did you mean: {', '.join(close)}?" if close else "See `llmcalc-xl catalog ...` for the ids."
    raise UnknownIdError(f"Unknown id '{name}'. {hint}")


def provenance_fields(cat: Catalog, entry: Any) -> dict[str, str]:
    """``<group>_source``, ``<group>_as_of`` and ``<group>_file`` of every group of an entry (specs,
    price, speed), whatever its catalog calls them: an API model's ``price_source`` is its ``source``,
    a device's ``specs_source`` is its ``source``."""
    found = {}
    for p in cat.provenance(entry):
        found.update({f"{p.group}_source": p.source, f"{p.group}_as_of": p.as_of, f"{p.group}_file": p.file})
    return found


def info(cat: Catalog, name: str, field: str) -> Any:
    """One catalog value (None where the catalog has none)."""
    _, entry = find_entry(cat, name)
    fields = [f.name for f in dataclasses.fields(entry)]
    named = provenance_fields(cat, entry)
    key = field.strip() if isinstance(field, str) else field
    if key not in fields and key in named:
        return named[key]
    if not isinstance(field, str) or key not in fields:
        known = fields + [k for k in named if k not in fields]
        close = difflib.get_close_matches(str(field), known, n=3)
        hint = f"Did you mean: {', '.join(close)}?" if close else f"Fields: {', '.join(known)}."
        raise InvalidValueError(f"field '{field}' is not a field of '{entry.id}'. {hint}")
    return _value(entry, key)


def info_many(names: Any, fields: Any, catalog: Catalog | None = None) -> dict[str, np.ndarray]:
    """:func:`info` over columns (or single values), errors per element."""
    cat = catalog or load_catalog()
    names_a, fields_a = np.broadcast_arrays(np.asarray(names, dtype=object), np.asarray(fields, dtype=object))
    names_a, fields_a = np.atleast_1d(names_a), np.atleast_1d(fields_a)
    values = np.full(names_a.shape, None, dtype=object)
    errors = np.full(names_a.shape, None, dtype=object)
    for i, (n, f) in enumerate(zip(names_a.tolist(), fields_a.tolist())):
        try:
            values[i] = info(cat, n, f)
        except (UnknownIdError, InvalidValueError) as exc:
            errors[i] = str(exc)
    return {"value": values, "error": errors}


def models_table(kind: str | None = None, catalog: Catalog | None = None) -> list[list[Any]]:
    """Header row and one row per model; kind: open, api or None for all."""
    cat = catalog or load_catalog()
    kind = (kind or "all").strip().lower() if isinstance(kind, str) or kind is None else kind
    groups = {"all": ("models", "api_models"), "open": ("models",), "api": ("api_models",)}
    if kind not in groups:
        raise InvalidValueError(f"kind '{kind}' must be open, api or empty (all).")
    rows: list[list[Any]] = [list(MODEL_COLUMNS)]
    for group in groups[kind]:
        for e in cat.entries(group):
            rows.append([e.kind if c == "kind" else (_value(e, c) if hasattr(e, c) else None) for c in MODEL_COLUMNS])
    return rows


def hardware_table(catalog: Catalog | None = None) -> list[list[Any]]:
    """Header row and one row per device."""
    cat = catalog or load_catalog()
    return [list(HARDWARE_COLUMNS)] + [[_value(e, c) for c in HARDWARE_COLUMNS] for e in cat.entries("hardware")]
