"""API prices from LiteLLM's price file, as a dated user catalog: `llmcalc-xl catalog import-prices`.

LiteLLM (github.com/BerriAI/litellm) keeps the per-token prices of the models it routes to in
one JSON file, ``model_prices_and_context_window.json``: one object per model name, with the
provider that sells it (``litellm_provider``) and prices in USD per token. This module reads that
file and turns the prices of our catalog's API models, as their own provider sells them, into
``[[api_models]]`` entries of a user catalog file dated with the file's date.

- A name is matched as the catalog matches names (its ids and aliases), whole or after its last
  ``/`` (``gemini/gemini-2.5-pro``). Names of no catalog API model are counted and left out: add
  the model to your own catalog first.
- Only the provider's own API counts (OpenAI's prices from ``openai``, Google's from ``gemini``,
  then Vertex AI); the same model through a cloud or a reseller (Azure, Bedrock, OpenRouter) is
  left out, as the catalog holds list prices of the provider's own API.
- Where several names give one model (``gpt-4o`` and ``gpt-4o-2024-08-06``), the name that is the
  catalog id wins, then any other; names that disagree on the price leave the model out.
- A price the catalog states as of a later day than the file is kept: the file is older.
- Each entry gives the whole price (input, output and whatever else LiteLLM lists: cache read,
  cache write, Batch, priority, a long-context tier), which replaces the catalog's price and its
  schedule; the model's specs and speed keep their own sources.

Pure: it reads a dict and the catalog and returns entries and counts; no file is touched here.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .loader import ApiModel, Catalog, PRICE_FIELDS, _build, as_date, normalize
from ..errors import CatalogError, InvalidValueError

#: LiteLLM's per-token fields and the catalog's USD per million tokens they give.
PER_TOKEN = {
    "input_cost_per_token": "input_usd_per_mtok",
    "output_cost_per_token": "output_usd_per_mtok",
    "cache_read_input_token_cost": "cached_input_usd_per_mtok",
    "cache_creation_input_token_cost": "cache_write_usd_per_mtok",
    "input_cost_per_token_batches": "batch_input_usd_per_mtok",
    "output_cost_per_token_batches": "batch_output_usd_per_mtok",
    "input_cost_per_token_priority": "priority_input_usd_per_mtok",
    "output_cost_per_token_priority": "priority_output_usd_per_mtok",
}
#: The long-context tier: a price for prompts above N thousand tokens.
LONG_TIER = re.compile(r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost)_above_(\d+)k_tokens$")
LONG_FIELDS = {"input_cost_per_token": "long_input_usd_per_mtok", "output_cost_per_token": "long_output_usd_per_mtok",
               "cache_read_input_token_cost": "long_cached_input_usd_per_mtok"}
#: Each catalog provider (normalized) and the LiteLLM providers that are its own API, best first.
OWN_API = {
    "openai": ("openai",), "anthropic": ("anthropic",),
    "google": ("gemini", "vertex_ai-language-models", "vertex_ai"),
    "mistral": ("mistral",), "deepseek": ("deepseek",), "xai": ("xai",), "moonshot": ("moonshot",),
}
#: LiteLLM modes of text models priced per token.
TEXT_MODES = ("chat", "responses", "completion")


@dataclass
class Imported:
    """What an import found: the entries to write and what was left out, and why."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)        # ids whose price differs from the catalog's
    confirmed: list[str] = field(default_factory=list)      # ids whose price the file states again
    newer_in_catalog: list[str] = field(default_factory=list)  # ids the catalog prices as of a later day
    disagreeing: list[str] = field(default_factory=list)    # ids whose names in the file disagree on the price
    refused: list[str] = field(default_factory=list)        # "id: why" for prices the catalog's checks refuse
    other_providers: int = 0   # names of a catalog model sold through a cloud or a reseller
    not_in_catalog: int = 0    # priced text models the catalog has no API entry for


def _usd_per_mtok(per_token: float) -> float:
    """USD per token as USD per million tokens, without the float noise of the multiplication."""
    return float(f"{per_token * 1e6:.12g}")


def _price(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def prices_of(item: dict[str, Any]) -> dict[str, Any]:
    """The catalog's price fields for one LiteLLM entry (USD per million tokens); pairs the catalog
    needs together (Batch, priority, the long-context tier) only when the file gives both."""
    out = {}
    for theirs, ours in PER_TOKEN.items():
        value = _price(item.get(theirs))
        if value is not None:
            out[ours] = _usd_per_mtok(value)
    for a, b in (("batch_input_usd_per_mtok", "batch_output_usd_per_mtok"),
                 ("priority_input_usd_per_mtok", "priority_output_usd_per_mtok")):
        if (a in out) != (b in out):
            out.pop(a, None)
            out.pop(b, None)
    tiers: dict[int, dict[str, float]] = {}
    for key, value in item.items():
        m = LONG_TIER.match(key)
        price = _price(value)
        if m and price is not None:
            tiers.setdefault(int(m.group(2)), {})[LONG_FIELDS[m.group(1)]] = _usd_per_mtok(price)
    complete = sorted(k for k, t in tiers.items() if {"long_input_usd_per_mtok", "long_output_usd_per_mtok"} <= set(t))
    if complete:  # the catalog holds one tier: the first threshold LiteLLM prices in full
        out["long_context_threshold_tokens"] = complete[0] * 1000
        out.update(tiers[complete[0]])
    return out


def _candidates(data: dict[str, Any], cat: Catalog, result: Imported) -> dict[str, list[tuple[tuple, str, str, dict]]]:
    """{catalog id: [(rank, name, provider, prices)]} of the file's names that price a catalog API model
    through its own provider."""
    names = cat.names("models")
    found: dict[str, list[tuple[tuple, str, str, dict]]] = {}
    for name, item in data.items():
        if not isinstance(item, dict) or item.get("mode") not in TEXT_MODES:
            continue
        if _price(item.get("input_cost_per_token")) is None or _price(item.get("output_cost_per_token")) is None:
            continue
        tail = name.rsplit("/", 1)[-1]
        mid = names.get(normalize(name)) or names.get(normalize(tail))
        entry = cat.model(mid) if mid else None
        if not isinstance(entry, ApiModel):
            result.not_in_catalog += 1
            continue
        provider = item.get("litellm_provider")
        own = OWN_API.get(normalize(entry.provider), ())
        if provider not in own:
            result.other_providers += 1
            continue
        rank = (own.index(provider), 0 if normalize(tail) == normalize(entry.id) else 1)
        found.setdefault(entry.id, []).append((rank, name, provider, prices_of(item)))
    return found


def import_prices(data: Any, cat: Catalog, as_of: str, file_label: str) -> Imported:
    """The catalog API models' prices in LiteLLM's price file ``data`` (its parsed JSON), as user
    catalog entries dated ``as_of``. ``file_label`` names the file in each entry's source."""
    if not isinstance(data, dict):
        raise InvalidValueError(f"LiteLLM price file '{file_label}' holds a JSON {type(data).__name__}, not an object of "
                           "model names. Give LiteLLM's model_prices_and_context_window.json.")
    result = Imported()
    for mid, found in sorted(_candidates(data, cat, result).items()):
        best = min(rank for rank, *_ in found)
        chosen = [c for c in found if c[0] == best]
        if any(c[3] != chosen[0][3] for c in chosen[1:]):
            result.disagreeing.append(f"{mid} ({', '.join(c[1] for c in chosen)})")
            continue
        _, name, provider, prices = chosen[0]
        base = cat.model(mid)
        if as_date(base.as_of) > as_date(as_of):
            result.newer_in_catalog.append(mid)
            continue
        prices = {f: prices[f] for f in PRICE_FIELDS if f in prices}  # in the catalog's order
        entry = {"id": mid, **prices,
                 "source": f"secondary: LiteLLM's model_prices_and_context_window.json ({file_label}, dated {as_of}), "
                           f"'{name}' from litellm_provider {provider}; USD per token x 1,000,000",
                 "as_of": as_of}
        try:
            built = _build("api_models", entry, base, f"LiteLLM price of '{mid}'")
        except CatalogError as exc:
            result.refused.append(str(exc))
            continue
        result.entries.append(entry)
        same = all(getattr(built, f) == getattr(base, f) for f in PRICE_FIELDS) and not getattr(base, "prices", ())
        (result.confirmed if same else result.changed).append(mid)
    return result


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string is a TOML basic string, but for DEL, which TOML wants escaped
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml(entries: list[dict[str, Any]], header: list[str]) -> str:
    """A user catalog file of ``[[api_models]]`` tables, with a comment header."""
    lines = [f"# {line}".rstrip() for line in header] + [""]
    for entry in entries:
        lines.append("[[api_models]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
        lines.append("")
    return "\n".join(lines)
