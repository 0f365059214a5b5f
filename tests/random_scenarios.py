"""Seeded random scenarios that the core accepts, for the parity book (tests/test_parity.py).

``CHOICES`` (then ``OWNING_CHOICES``) maps each scenario input column to a function
``choose(rng, row, cat)`` that returns its value, or None to leave the cell empty (the default). The
functions run in the dicts' order and see the columns chosen before them in ``row``; to cover a new
input column or an alias, add one entry (its position sets what it may depend on).
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

from llmcalc_xl import estimate_many
from llmcalc_xl.catalogs.loader import Catalog

Choose = Callable[[random.Random, dict[str, Any], Catalog], Any]


def _often(rng: random.Random, p_empty: float) -> bool:
    """True with probability 1 - p_empty: the cell gets a value."""
    return rng.random() >= p_empty


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _is_api(cat: Catalog, model: str) -> bool:
    return any(m.id == model for m in cat.entries("api_models"))


def _hardware_entry(cat: Catalog, hw: str | None):
    return next((h for h in cat.entries("hardware") if h.id == hw), None)


def _precision(cat: Catalog, row: dict[str, Any]) -> str:
    """The precision the row is estimated in: its own, else the model's native one, else fp16 (README)."""
    model = next((m for m in cat.entries("models") if m.id == row.get("model")), None)
    return row.get("precision") or (model.native_precision if model is not None else "") or "fp16"


def _engines_for(cat: Catalog, row: dict[str, Any]) -> list[str]:
    """Engines that run the row's precision on its hardware (kind and vendor), in catalog order."""
    hw = _hardware_entry(cat, row.get("hardware"))
    kind = hw.kind if hw else "gpu"
    precision = _precision(cat, row)
    return [e.id for e in cat.entries("engines")
            if kind in e.hardware_kinds and (not e.vendors or kind != "gpu" or hw is None or hw.vendor in e.vendors)
            and (not e.precisions or precision in e.precisions)]


def _default_engine(cat: Catalog, row: dict[str, Any]) -> str:
    """The engine an empty Engine cell means (README: llama.cpp on Apple and CPU or with GGUF, else vLLM)."""
    hw = _hardware_entry(cat, row.get("hardware"))
    family = next(p.family for p in cat.entries("precisions") if p.id == _precision(cat, row))
    return "llama.cpp" if (hw and hw.kind in ("apple", "cpu")) or family == "gguf" else "vllm"


def _context_length(cat: Catalog, model: str) -> float:
    found = next((m.context_length for m in cat.entries("models") + cat.entries("api_models") if m.id == model), None)
    return math.inf if found is None else found  # an API model may publish no context length


def choose_model(rng, row, cat):
    group = "api_models" if rng.random() < 0.25 else "models"
    return rng.choice(cat.entries(group)).id


def choose_hardware(rng, row, cat):
    api = _is_api(cat, row["model"])
    if rng.random() < (0.7 if api else 0.1):
        return None  # API only, or memory only for an open model
    return rng.choice(cat.entries("hardware")).id


def choose_precision(rng, row, cat):
    if _is_api(cat, row["model"]):
        return None
    if not _often(rng, 0.3) and _engines_for(cat, row):  # the model's native precision runs here
        return None
    for _ in range(50):
        precision = rng.choice(cat.entries("precisions")).id
        if _engines_for(cat, dict(row, precision=precision)):
            return precision
    return None


def choose_engine(rng, row, cat):
    if _is_api(cat, row["model"]):
        return None
    engines = _engines_for(cat, row)
    default = _default_engine(cat, row)
    if default in engines and rng.random() < 0.4:
        return None
    return rng.choice(engines)


def _effective(row: dict[str, Any], key: str, default: float) -> float:
    return default if row.get(key) is None else row[key]


def choose_input_tokens(rng, row, cat):
    if not _often(rng, 0.15):
        return None
    room = min(6000, _context_length(cat, row["model"]) - 1500)  # prompt + the longest answer fit the model
    return 0 if rng.random() < 0.05 else int(_log_uniform(rng, 1, room))


def choose_output_tokens(rng, row, cat):
    if not _often(rng, 0.15):
        return None
    return int(_log_uniform(rng, 1, 1500))


def choose_batch(rng, row, cat):
    if not _often(rng, 0.3):
        return None
    return int(_log_uniform(rng, 1, 256))


def choose_context_tokens(rng, row, cat):
    if not _often(rng, 0.6):
        return None
    tokens = _effective(row, "input_tokens", 1000) + _effective(row, "output_tokens", 500)
    return int(min(tokens + _log_uniform(rng, 1, 32768), _context_length(cat, row["model"])))


def choose_kv_precision(rng, row, cat):
    if _is_api(cat, row["model"]) or not _often(rng, 0.7):
        return None
    return rng.choice([p.id for p in cat.entries("precisions") if (p.kv_bytes or 0) > 0])


def choose_latency_s(rng, row, cat):
    return round(_log_uniform(rng, 0.2, 60), 3) if _often(rng, 0.85) else None


def choose_price_per_hour(rng, row, cat):
    if row.get("hardware") is None or not _often(rng, 0.7):
        return None
    return 0 if rng.random() < 0.2 else round(_log_uniform(rng, 0.1, 12), 4)


def choose_requests_per_month(rng, row, cat):
    if not _often(rng, 0.2):
        return None
    return 0 if rng.random() < 0.05 else int(_log_uniform(rng, 100, 1e8))


def choose_gpus(rng, row, cat):
    """Empty, a common count, or just below / at / just above the fewest GPUs that fit (from the core)."""
    if row.get("hardware") is None or _is_api(cat, row["model"]):
        return None
    pick = rng.random()
    if pick < 0.15:
        return None
    if pick < 0.22:
        inputs = {k: v for k, v in row.items() if k != "scenario" and v is not None}
        fits_somewhere = not math.isnan(estimate_many(catalog=cat, **dict(inputs, gpus=1))["gpus_needed"][0])
        return rng.choice(["auto", "AUTO", " Auto "]) if fits_somewhere else None
    if pick < 0.35:
        return rng.choice([1, 2, 4, 8])
    inputs = {k: v for k, v in row.items() if k != "scenario" and v is not None}
    needed = estimate_many(catalog=cat, **dict(inputs, gpus=1))["gpus_needed"][0]
    if math.isnan(needed):
        return rng.choice([1, 2, 4, 8, 16])
    return max(1, int(needed) + rng.choice([-1, 0, 1]))


def choose_cached_input_tokens(rng, row, cat):
    if not _often(rng, 0.2):
        return None
    return int(rng.random() * _effective(row, "input_tokens", 1000))


def choose_utilization(rng, row, cat):
    return round(rng.uniform(0.05, 1.0), 3) if _often(rng, 0.2) else None


def choose_pricing(rng, row, cat):
    """Empty (on-demand, or owned for hardware with no rental price), or a spelling of a word."""
    if row.get("hardware") is None or not _often(rng, 0.7):
        return None
    return rng.choice(["owned", "Owned", " owned ", "on-demand", "On Demand", "auto", "spot", "Reserved 1y",
                       "reserved-3y"])


def _tier(row):
    """The rental tier a row's pricing takes its price from (on-demand when empty, auto or owned)."""
    word = str(row.get("pricing") or "").strip().lower().replace(" ", "-")
    return word if word in ("reserved-1y", "reserved-3y", "spot") else "on-demand"


def choose_provider(rng, row, cat):
    """Now and then one of the providers that publish a price of the row's tier for its hardware, in
    another spelling at times (names are matched without regard to case or spacing)."""
    hw = _hardware_entry(cat, row.get("hardware"))
    if hw is None or _owned(row) or not _often(rng, 0.5):
        return None
    providers = [p.provider for p in hw.prices if p.tier == _tier(row)]
    if not providers:
        return None
    name = rng.choice(providers)
    return rng.choice([name, name.upper(), f" {name.lower()} "])


def _owned(row):
    return str(row.get("pricing") or "").strip().lower() == "owned"


def choose_capex_usd_per_gpu(rng, row, cat):
    """Given where owned hardware has no purchase price in the catalog (else it could not be priced),
    and now and then over the catalog's."""
    hw = _hardware_entry(cat, row.get("hardware"))
    needed = _owned(row) and row.get("price_per_hour") is None and hw is not None and hw.capex_usd_per_gpu is None
    if needed or (row.get("hardware") is not None and not _often(rng, 0.1)):
        return round(_log_uniform(rng, 300, 60000), 2)
    return None


def choose_power_w_per_gpu(rng, row, cat):
    hw = _hardware_entry(cat, row.get("hardware"))
    needed = _owned(row) and row.get("price_per_hour") is None and hw is not None and hw.tdp_w is None
    if needed or (row.get("hardware") is not None and not _often(rng, 0.1)):
        return round(rng.uniform(30, 1500), 1)
    return None


def choose_cost_of_capital(rng, row, cat):
    """Often on owned rows (an annuity), now and then elsewhere (where it does not apply)."""
    if row.get("hardware") is None or not _often(rng, 0.4 if _owned(row) else 0.8):
        return None
    return 0 if rng.random() < 0.2 else round(rng.uniform(0.01, 0.2), 4)


def _when_hardware(low, high, share, whole=False):
    def choose(rng, row, cat):
        if row.get("hardware") is None or not _often(rng, share):
            return None
        return rng.randint(low, high) if whole else round(rng.uniform(low, high), 4)
    return choose


def _override(low, high, share=0.1):
    def choose(rng, row, cat):
        if row.get("hardware") is None or not _often(rng, share):
            return None
        return round(rng.uniform(low, high), 4)
    return choose


#: Input column -> how to choose it. Order matters: a function sees the columns before it.
CHOICES: dict[str, Choose] = {
    "model": choose_model,
    "hardware": choose_hardware,
    "precision": choose_precision,
    "engine": choose_engine,
    "input_tokens": choose_input_tokens,
    "output_tokens": choose_output_tokens,
    "batch": choose_batch,
    "context_tokens": choose_context_tokens,
    "kv_precision": choose_kv_precision,
    "latency_s": choose_latency_s,
    "price_per_hour": choose_price_per_hour,
    "requests_per_month": choose_requests_per_month,
    "cached_input_tokens": choose_cached_input_tokens,
    "utilization": choose_utilization,
    "memory_gib": _override(8, 200),
    "bandwidth_gb_s": _override(200, 8000),
    "tflops": _override(20, 2000),
    "memory_fraction": _override(0.5, 1.0),
    "overhead_gib": _override(0, 4),
    "prefill_mfu": _override(0.1, 0.9),
    "decode_mfu": _override(0.1, 0.9),
    "decode_mbu": _override(0.2, 0.95),
    "prefill_overhead_s": _override(0, 0.1),
    "decode_step_overhead_s": _override(0, 0.01),
    "gpus": choose_gpus,
}

#: The owned hardware and fleet columns, chosen after CHOICES from a random stream of their own, so that
#: adding them left the columns above (and what they exercise) as they were.
OWNING_CHOICES: dict[str, Choose] = {
    "pricing": choose_pricing,
    "capex_usd_per_gpu": choose_capex_usd_per_gpu,
    "power_w_per_gpu": choose_power_w_per_gpu,
    "depreciation_years": _when_hardware(1, 8, 0.7),
    "residual_share": _when_hardware(0, 0.5, 0.6),
    "cost_of_capital": choose_cost_of_capital,
    "pue": _when_hardware(1, 2, 0.8),
    "electricity_usd_per_kwh": _when_hardware(0.03, 0.4, 0.8),
    "hosting_usd_per_kw_month": _when_hardware(0, 300, 0.8),
    "maintenance_share_per_year": _when_hardware(0, 0.2, 0.8),
    "peak_to_average": _when_hardware(1, 6, 0.6),
    "redundancy": _when_hardware(0, 3, 0.7, whole=True),
}

#: The provider of a published price, chosen after OWNING_CHOICES from a third random stream.
PRICE_CHOICES: dict[str, Choose] = {
    "provider": choose_provider,
}


def _sometimes(low: float, high: float, p_empty: float, whole: bool = False) -> Choose:
    def choose(rng, row, cat):
        if not _often(rng, p_empty):
            return None
        x = rng.uniform(low, high)
        return float(round(x)) if whole else round(x, 4)
    return choose


def choose_capex_upfront(rng, row, cat):
    """Mostly yes (in any case), where owned hardware pays its purchase up front when the cost of
    capital is 0; sometimes no, or empty."""
    if not _often(rng, 0.1):
        return None
    return rng.choice(["yes", "Yes", " YES ", "yes", "yes", "no", "No"])


#: The horizon forecast's columns, from a stream of their own (the columns above stay as they were).
HORIZON_CHOICES: dict[str, Choose] = {
    "horizon_months": _sometimes(1, 60, 0.5, whole=True),
    "growth_per_month": _sometimes(-0.2, 0.3, 0.5),
    "api_price_change_per_year": _sometimes(-0.8, 2.0, 0.5),
    "gpu_price_change_per_year": _sometimes(-0.7, 0.3, 0.5),
    "discount_rate": _sometimes(0, 0.3, 0.6),
    "capex_upfront": choose_capex_upfront,
}


def choose_autoscale(rng, row, cat):
    """Often yes (in any case), sometimes no, or empty."""
    if not _often(rng, 0.5):
        return None
    return rng.choice(["yes", "Yes", " YES ", "yes", "no", "No"])


def choose_peak_hours(rng, row, cat):
    """Hours a day at the peak, within what the row's peak leaves room for (peak x hours <= 24: the
    book's rows are valid; the workbook's refusal of the others is tests/test_workbook_inputs.py's);
    empty (8) where the peak leaves room for 8."""
    peak = row.get("peak_to_average") or 1.0
    room = 24.0 / peak
    if room >= 8.0 and not _often(rng, 0.6):
        return None
    return math.floor(rng.uniform(0.5, room) * 1000.0) / 1000.0


def choose_autoscaled_peak(rng, row, cat):
    """The row's peak_to_average as chosen before; an autoscaled row on hardware without one often
    gets a peak of its own (autoscaling follows a peak)."""
    given = row.get("peak_to_average")
    if given is not None or str(row.get("autoscale", "")).strip().lower() != "yes" or "hardware" not in row:
        return given
    return round(rng.uniform(1.2, 4.0), 3) if rng.random() < 0.8 else None


#: Autoscaling's columns, from a stream of their own.
AUTOSCALE_CHOICES: dict[str, Choose] = {
    "autoscale": choose_autoscale,
    "peak_to_average": choose_autoscaled_peak,
    "peak_hours_per_day": choose_peak_hours,
}


def _alias(group):
    """Another name the catalog accepts for the id: one of its aliases, or the id re-spaced."""
    def respell(rng, value, cat):
        names = [n for n, rid in cat.names(group).items() if rid == value.lower()]
        entry = {e.id: e for e in cat.entries("models") + cat.entries("api_models") + cat.entries("hardware")
                 + cat.entries("precisions")}.get(value.lower())
        aliases = list(getattr(entry, "aliases", ()) or ())
        choices = aliases + [value.replace("-", " ").title(), value.replace("-", "_").upper(), f"  {value} "]
        return rng.choice(choices) if names else value
    return respell


#: Column -> (share of rows, how to respell a chosen value): other spellings every surface must
#: accept the same way (an alias, other letter case). Applied after all choices.
SPELLINGS: dict[str, tuple[float, Callable[[random.Random, str, Catalog], str]]] = {
    "model": (0.3, _alias("models")),
    "hardware": (0.3, _alias("hardware")),
    "precision": (0.2, _alias("precisions")),
}


def random_scenarios(n: int, seed: int, cat: Catalog) -> list[dict[str, Any]]:
    """n scenarios, each a dict of the chosen (non-empty) inputs plus a ``scenario`` label."""
    rng, owning, prices = random.Random(seed), random.Random(seed + 1), random.Random(seed + 2)
    over_time, scaling = random.Random(seed + 3), random.Random(seed + 4)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {}
        for column, choose in CHOICES.items():
            row[column] = choose(rng, row, cat)
        for column, choose in OWNING_CHOICES.items():
            row[column] = choose(owning, row, cat)
        for column, choose in PRICE_CHOICES.items():
            row[column] = choose(prices, row, cat)
        for column, choose in HORIZON_CHOICES.items():
            row[column] = choose(over_time, row, cat)
        for column, choose in AUTOSCALE_CHOICES.items():
            row[column] = choose(scaling, row, cat)
        for column, (share, respell) in SPELLINGS.items():
            if row.get(column) is not None and rng.random() < share:
                row[column] = respell(rng, row[column], cat)
        rows.append(dict({"scenario": f"random {seed}-{i}"}, **{k: v for k, v in row.items() if v is not None}))
    return rows
