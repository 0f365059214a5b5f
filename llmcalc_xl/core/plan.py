"""``plan``: which hardware serves a target load, at what monthly cost, next to the APIs.

For every (model, hardware, GPU count, batch) on a grid, one vectorised estimate gives
latency and capacity; the cheapest configuration of each hardware that fits and meets
the latency targets is kept. Self-hosted deployments are priced always-on (GPUs x
USD/h x 730 h per replica, as many replicas as the load needs); APIs per token. The
break-even is the monthly volume at which one replica costs what the API would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from . import cost as _cost
from . import defaults
from ..catalogs.loader import Catalog, load_catalog
from ..errors import InvalidValueError
from .estimate import estimate_many
from .inputs import NONE
from ..units import HOURS_PER_MONTH, SECONDS_PER_HOUR

DAYS_PER_MONTH = 365.0 / 12.0
BATCH_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
GPU_CHOICES = (1, 2, 4, 8)


@dataclass
class Plan:
    requests_per_month: float
    self_hosted: list[dict[str, Any]] = field(default_factory=list)  # cheapest first
    apis: list[dict[str, Any]] = field(default_factory=list)          # cheapest first
    rejected: dict[str, str] = field(default_factory=dict)            # hardware -> why
    open_models: list[str] = field(default_factory=list)              # the models that could be self-hosted


def requests_per_month(requests_per_day: float | None = None, requests_per_s: float | None = None) -> float:
    """Monthly requests from a daily or per-second rate (365/12 days, 730 h a month)."""
    if requests_per_day is not None and requests_per_s is None:
        name, rate, scale = "requests_per_day", requests_per_day, DAYS_PER_MONTH
    elif requests_per_s is not None and requests_per_day is None:
        name, rate, scale = "requests_per_s", requests_per_s, SECONDS_PER_HOUR * HOURS_PER_MONTH
    else:
        raise InvalidValueError("Give the load as requests_per_day or requests_per_s (one of them).")
    if not rate > 0:
        raise InvalidValueError(f"{name} must be > 0, got {rate:g}")
    if not math.isfinite(rate * scale):
        raise InvalidValueError(f"{name} must be a finite number, got {rate:g}. Give the load you plan for.")
    return rate * scale


def plan(models: Iterable[str], *, requests_per_day: float | None = None, requests_per_s: float | None = None,
         input_tokens: int = defaults.DEFAULT_INPUT_TOKENS, output_tokens: int = defaults.DEFAULT_OUTPUT_TOKENS,
         hardware: Iterable[str] = (), api_models: Iterable[str] = (), max_ttft_s: float | None = None,
         max_latency_s: float | None = None, precision: str | None = None, engine: str | None = None,
         utilization: float = defaults.DEFAULT_UTILIZATION, catalog: Catalog | Iterable[str] | None = None) -> Plan:
    """Cheapest self-hosted configurations per hardware, and the API alternatives."""
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    monthly = requests_per_month(requests_per_day, requests_per_s)
    for name, limit in (("max_ttft_s", max_ttft_s), ("max_latency_s", max_latency_s)):
        if limit is not None and not limit > 0:
            raise InvalidValueError(f"{name} must be > 0, got {limit:g}")
    models = [cat.model(m).id for m in models]
    if not models:
        raise InvalidValueError("Give at least one model to self-host (--model).")
    open_models = [m for m in models if cat.model(m).kind == "open"]
    api_ids = [cat.model(a).id for a in api_models] or [m.id for m in cat.entries("api_models")]
    api_ids += [m for m in models if cat.model(m).kind == "api" and m not in api_ids]
    hw_ids = [cat.hardware(h).id for h in hardware] or \
        [h.id for h in cat.entries("hardware") if (h.price_usd_per_hour or 0) > 0]

    result = Plan(requests_per_month=monthly, open_models=open_models)
    if open_models and hw_ids:
        grid = [(m, h, g, b) for m in open_models for h in hw_ids for g in GPU_CHOICES for b in BATCH_CHOICES]
        cols = list(zip(*grid))
        est = estimate_many(list(cols[0]), list(cols[1]), catalog=cat, gpus=list(cols[2]), batch=list(cols[3]),
                            input_tokens=input_tokens, output_tokens=output_tokens, precision=precision,
                            engine=engine, utilization=utilization)
        result.self_hosted, result.rejected = _choose(est, monthly, max_ttft_s, max_latency_s)
        _price_tiers(result.self_hosted, cat, input_tokens=input_tokens, output_tokens=output_tokens,
                     precision=precision, engine=engine, utilization=utilization)
    for a in api_ids:
        e = estimate_many(a, catalog=cat, input_tokens=input_tokens, output_tokens=output_tokens,
                          errors="raise")
        per_request = float(e["token_cost_usd"][0])
        row = {"api_model": a, "cost_per_request_usd": per_request, "usd_per_1k_requests": per_request * 1000,
               "monthly_usd": per_request * monthly,
               "ttft_s": _f(e["ttft_s"][0]), "latency_s": _f(e["latency_s"][0])}
        if result.self_hosted:
            best = result.self_hosted[0]
            volume = float(_cost.breakeven_requests_per_month(
                best["replica_usd_per_month"], per_request, best["capacity_requests_per_month"]))
            row["breakeven_requests_per_month"] = volume
            row["cheaper"] = "self-hosted" if best["monthly_usd"] < row["monthly_usd"] else "API"
        result.apis.append(row)
    result.apis.sort(key=lambda r: r["monthly_usd"])
    return result


#: The ways a GPU-hour is paid for that ``plan`` compares for each hardware.
PLAN_PRICINGS = ("on-demand", "reserved-1y", "reserved-3y", "spot", "owned")


def _price_tiers(rows: list[dict[str, Any]], cat: Catalog, **options: Any) -> None:
    """Each chosen configuration's monthly cost at every pricing the catalog can price: the default
    published price of each rental tier, and the owned GPU-hour where the purchase price and power are
    known (``monthly_usd_by_pricing``: pricing -> USD a month, None where there is no price)."""
    if not rows:
        return
    n = len(rows)
    cols = {k: [r[k] for r in rows] * len(PLAN_PRICINGS) for k in ("model", "hardware", "gpus", "batch")}
    pricing = [p for p in PLAN_PRICINGS for _ in range(n)]
    est = estimate_many(cols["model"], cols["hardware"], catalog=cat, pricing=pricing, gpus=cols["gpus"],
                        batch=cols["batch"], **options)
    for t, word in enumerate(PLAN_PRICINGS):
        for i, row in enumerate(rows):
            price = float(est["price_per_hour"][t * n + i]) if est["error"][t * n + i] is None else math.nan
            monthly = row["replicas"] * row["gpus"] * price * HOURS_PER_MONTH
            row.setdefault("monthly_usd_by_pricing", {})[word] = None if math.isnan(monthly) else monthly
            row.setdefault("provider_by_pricing", {})[word] = est["provider"][t * n + i] if word != "owned" else None


def _f(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _choose(est: dict[str, np.ndarray], monthly: float, max_ttft: float | None,
            max_latency: float | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    ok = np.equal(est["error"], NONE) & (est["fits"] == 1) & (est["price_per_hour"] > 0)
    why = {}
    if max_ttft is not None:
        ok &= est["ttft_s"] <= max_ttft
    if max_latency is not None:
        ok &= est["latency_s"] <= max_latency
    capacity = est["capacity_requests_per_month"]
    replicas = np.where(ok, np.ceil(monthly / np.where(ok, capacity, 1.0)), np.nan)
    replica_cost = est["deployment_usd_per_month"]
    total = replicas * replica_cost
    best: dict[tuple[str, str], int] = {}
    for i in np.flatnonzero(ok).tolist():
        key = (est["model"][i], est["hardware"][i])
        if key not in best or total[i] < total[best[key]] - 1e-9:
            best[key] = i
    rows: list[dict[str, Any]] = []
    for (model, hw), i in best.items():
        rows.append({
            "model": model, "hardware": hw, "gpus": int(est["gpus"][i]), "batch": int(est["batch"][i]),
            "replicas": int(replicas[i]), "total_gpus": int(replicas[i] * est["gpus"][i]),
            "ttft_s": float(est["ttft_s"][i]), "latency_s": float(est["latency_s"][i]),
            "capacity_requests_per_month": float(capacity[i]), "replica_usd_per_month": float(replica_cost[i]),
            "monthly_usd": float(total[i]),
            "cost_per_request_usd": float(total[i] / monthly),
            "usd_per_1k_requests": float(total[i] / monthly * 1000),
        })
    rows.sort(key=lambda r: r["monthly_usd"])
    for hw in set(est["hardware"].tolist()) - {r["hardware"] for r in rows}:
        mask = est["hardware"] == hw
        if not (est["fits"][mask] == 1).any():
            why[hw] = "the model does not fit on 8 GPUs"
        else:
            why[hw] = "no configuration meets the latency targets"
    return rows, why


def breakeven_many(api_model: Any, model: Any, hardware: Any, *, catalog: Catalog | Iterable[str] | None = None,
                   **options: Any) -> dict[str, np.ndarray]:
    """Monthly requests above which one always-on self-hosted deployment of ``model`` on
    ``hardware`` costs less than ``api_model`` for the same requests (inf: never).

    Columns or single values, like :func:`~llmcalc_xl.estimate_many`; options are its options
    (input_tokens, output_tokens, gpus, batch, precision, engine, price_per_hour, ...).
    Returns ``breakeven_requests_per_month`` and ``error`` arrays.
    """
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    tokens = {k: v for k, v in options.items() if k in ("input_tokens", "output_tokens", "cached_input_tokens")}
    api = estimate_many(api_model, catalog=cat, **tokens)
    own = estimate_many(model, hardware, catalog=cat, **options)
    error = np.where(np.equal(api["error"], NONE), own["error"], api["error"])
    not_api = np.equal(error, NONE) & (np.asarray(api["model_kind"]) != "api")
    if not_api.any():
        error = error.copy()
        for i in np.flatnonzero(not_api):
            error[i] = (f"api_model '{api['model'][i]}' is not an API model. Give an API model such as "
                        "gpt-4o as the first argument")
    not_open = np.equal(error, NONE) & (np.asarray(own["model_kind"]) != "open")
    for i in np.flatnonzero(not_open):
        error[i] = f"model '{own['model'][i]}' is an API model. Give an open-weight model to self-host"
    volume = _cost.breakeven_requests_per_month(own["deployment_usd_per_month"], api["token_cost_usd"],
                                                own["capacity_requests_per_month"])
    volume = np.where(np.equal(error, NONE), volume, np.nan)
    return {"breakeven_requests_per_month": volume, "error": error, "notes": own["notes"],
            "note_kinds": own["note_kinds"]}
