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
from ..errors import InvalidValueError, LlmcalcError
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


# --- over time and sensitivity ------------------------------------------------------------------------

#: What ``horizon_many`` returns beside ``error``, in display order (the fill columns, the JSON keys).
HORIZON_KEYS = ("horizon_cost_usd", "horizon_cost_api_usd", "npv_usd", "npv_api_usd", "crossover_month")


def _option_numbers(options: dict[str, Any], n: int, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Numeric options as columns of n with their defaults applied (``estimate_many`` has checked them)."""
    from .inputs import RowErrors, numbers_column
    from .options import BY_NAME

    out = {}
    for name in names:
        column = numbers_column(name, options.get(name), n, RowErrors(n))
        default = BY_NAME[name].default
        out[name] = np.where(np.isnan(column), np.nan if default is None else float(default), column)
    return out


def _yes(value: Any, n: int) -> np.ndarray:
    """Where a yes/no option says yes (any case, spaces around)."""
    from .inputs import length_of

    def is_yes(v):
        return isinstance(v, str) and v.strip().lower() == "yes"

    if length_of(value) is None:
        return np.full(n, is_yes(value))
    return np.fromiter((is_yes(v) for v in np.asarray(value, dtype=object).tolist()), dtype=bool, count=n)


def _scenarios(model: Any, hardware: Any, cat: Catalog, quote_date: Any, options: dict[str, Any]):
    """The estimate of each scenario, and the numbers the forecast and the sensitivity read."""
    est = estimate_many(model, hardware, catalog=cat, quote_date=quote_date, **options)
    n = len(est["error"])
    nums = _option_numbers(options, n, ("peak_to_average", "redundancy", "depreciation_years", "residual_share",
                                        "cost_of_capital", "price_per_hour", "horizon_months", "growth_per_month",
                                        "api_price_change_per_year", "gpu_price_change_per_year",
                                        "discount_rate"))
    hours = defaults.ASSUMPTIONS.hours_per_month
    is_api = np.asarray(est["model_kind"]) == "api"
    has_hw = ~np.equal(est["hardware"], NONE)
    owned = np.asarray(est["pricing"]) == "owned"
    capex = np.asarray(est["capex_usd_per_gpu"], dtype=float)
    own_capital = _cost.capital_usd_per_hour(capex, nums["depreciation_years"], nums["residual_share"],
                                             nums["cost_of_capital"], hours)
    return est, nums, dict(is_api=is_api, hosted=has_hw & ~is_api, owned=owned, capex=capex,
                           own_capital=own_capital, price_given=~np.isnan(nums["price_per_hour"]), hours=hours)


def horizon_many(api_model: Any, model: Any, hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                 quote_date: Any = None, series: bool = False, **options: Any) -> dict[str, np.ndarray]:
    """Each scenario over its horizon (``horizon_months``) next to the same traffic on ``api_model``:
    ``horizon_cost_usd`` and ``horizon_cost_api_usd`` (sums of the monthly costs), ``npv_usd`` and
    ``npv_api_usd`` (at ``discount_rate``, end-of-month cash flows), ``crossover_month`` (NaN: the lead
    never changes) and ``error``. Columns or single values, like :func:`~llmcalc_xl.estimate_many`;
    the options are its options. ``series``: also ``requests_per_month``, ``replicas`` (paid for),
    ``monthly_usd``, ``monthly_api_usd``,
    ``cumulative_usd`` and ``cumulative_api_usd``, arrays of scenarios x months (the monthly costs
    NaN past a horizon, the cumulative ones at the horizon's total).
    Conventions: :mod:`llmcalc_xl.core.forecast`."""
    from . import forecast as _fc
    from .defaults import MAX_HORIZON_MONTHS

    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    est, nums, q = _scenarios(model, hardware, cat, quote_date, options)
    tokens = {k: v for k, v in options.items() if k in ("input_tokens", "output_tokens", "cached_input_tokens")}
    api = estimate_many(api_model, catalog=cat, quote_date=quote_date, **tokens)
    error = np.where(np.equal(api["error"], NONE), est["error"], api["error"])
    not_api = np.equal(error, NONE) & (np.asarray(api["model_kind"]) != "api")
    if not_api.any():
        error = error.copy()
        for i in np.flatnonzero(not_api):
            error[i] = (f"api_model '{api['model'][i]}' is not an API model. Give an API model such as "
                        "gpt-4o as the first argument")
    n = len(error)
    api_request = np.broadcast_to(api["token_cost_usd"], (n,))
    # the rows the quote's totals count: those with a monthly cost (the others have no forecast)
    ok = np.equal(error, NONE) & ~np.isnan(est["monthly_cost_usd"])
    b = _fc.base(np.where(ok, est["requests_per_month"], np.nan), nums["peak_to_average"], nums["redundancy"],
                 est["capacity_requests_per_month"], est["deployment_usd_per_month"], est["token_cost_usd"],
                 est["infra_cost_usd"], q["is_api"], q["hosted"], q["owned"], _yes(options.get("capex_upfront"), n),
                 nums["cost_of_capital"], q["price_given"], q["capex"], q["own_capital"], est["gpus"], api_request,
                 q["hours"])
    h = _fc.Horizon(months=nums["horizon_months"], growth=nums["growth_per_month"],
                    api_change=nums["api_price_change_per_year"], gpu_change=nums["gpu_price_change_per_year"],
                    discount=nums["discount_rate"])
    kept: dict[str, list] = {}

    def let(name, month, value):
        if series and month is not None:
            kept.setdefault(name, []).append(np.broadcast_to(value, (n,)))
        return value

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = _fc.forecast(b, h, let, MAX_HORIZON_MONTHS)
    out = {key: np.where(ok, np.broadcast_to(value, (n,)), np.nan) for key, value in zip(
        HORIZON_KEYS, (t.total, t.total_api, t.npv, t.npv_api, t.crossover))}
    if series:
        for key, name in (("requests_per_month", "requests"), ("replicas", "replicas"), ("monthly_usd", "quoted"),
                          ("monthly_api_usd", "api"), ("cumulative_usd", "cum_quoted"),
                          ("cumulative_api_usd", "cum_api")):
            out[key] = np.where(ok[:, None], np.stack(kept[name], axis=1), np.nan)
    out["error"] = error
    return out


def horizon_totals(result: dict[str, np.ndarray]) -> dict[str, Any]:
    """The quote's totals of a ``horizon_many(..., series=True)`` result, as its Forecast sheet shows
    them: the sums of ``HORIZON_KEYS`` but the crossover, each month's sums over the scenarios whose
    horizon covers it (NaN past the longest; a cumulative sum counts a shorter horizon's total), and the
    crossover month of the cumulative sums."""
    from . import forecast as _fc

    counted = ~np.isnan(result["npv_usd"])
    out: dict[str, Any] = {k: float(np.sum(np.where(counted, result[k], 0.0))) for k in HORIZON_KEYS[:-1]}
    months = result["monthly_usd"].shape[1]
    longest = np.max(np.where(counted, np.sum(~np.isnan(result["monthly_usd"]), axis=1), 0), initial=0)
    for key in ("monthly_usd", "monthly_api_usd", "cumulative_usd", "cumulative_api_usd"):
        sums = np.nansum(np.where(counted[:, None], result[key], np.nan), axis=0)
        out[key] = np.where(np.arange(1, months + 1) <= longest, sums, np.nan)
    out["crossover_month"] = float(_fc.crossover_of(list(out["cumulative_usd"]), list(out["cumulative_api_usd"])))
    return out


def sensitivity_many(model: Any, hardware: Any = None, *, share: float = defaults.DEFAULT_SENSITIVITY_SHARE,
                     catalog: Catalog | Iterable[str] | None = None, quote_date: Any = None,
                     **options: Any) -> dict[str, np.ndarray]:
    """Each scenario's monthly cost with each driver of :data:`~llmcalc_xl.core.forecast.DRIVERS`
    moved down and up by ``share``: ``base_usd`` (the estimate's monthly cost) and
    ``<driver>_down_usd`` / ``<driver>_up_usd``, with ``error``. How each driver acts:
    :func:`llmcalc_xl.core.forecast.sensitivity`."""
    from . import forecast as _fc

    if not (isinstance(share, (int, float)) and 0 < share < 1):
        raise InvalidValueError(f"share must be above 0 and below 1, got {share!r}. Give 0.2 for 20%.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    est, nums, q = _scenarios(model, hardware, cat, quote_date, options)
    n = len(est["error"])
    hours = q["hours"]
    parts = dict(
        own_power=_cost.power_usd_per_hour(np.asarray(est["power_w_per_gpu"], dtype=float),
                                           *_option_numbers(options, n, ("pue", "electricity_usd_per_kwh")).values()),
        own_maintenance=_cost.maintenance_usd_per_hour(q["capex"], _option_numbers(
            options, n, ("maintenance_share_per_year",))["maintenance_share_per_year"], hours))
    ok = np.equal(est["error"], NONE) & ~np.isnan(est["monthly_cost_usd"])
    b = _fc.SensitivityBase(
        requests=np.where(ok, est["requests_per_month"], np.nan), peak_ratio=nums["peak_to_average"], spares=nums["redundancy"],
        capacity=est["capacity_requests_per_month"], deployment=est["deployment_usd_per_month"],
        token_cost=est["token_cost_usd"], infra=est["infra_cost_usd"], is_api=q["is_api"], hosted=q["hosted"],
        util=est["utilization"], gpus=est["gpus"], owned_parts=q["owned"] & ~q["price_given"],
        own_capital=q["own_capital"], capex=q["capex"], years=nums["depreciation_years"],
        residual=nums["residual_share"], rate=nums["cost_of_capital"], hours_per_month=hours, **parts)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        moved = _fc.sensitivity(b, share)
    out = {f"{key}_usd": np.where(ok, np.broadcast_to(value, (n,)), np.nan) for key, value in moved.items()}
    out["error"] = est["error"]
    return out


def sensitivity_total(result: dict[str, np.ndarray]) -> dict[str, float]:
    """The quote's total of each ``sensitivity_many`` column: the sum over the scenarios that have a
    monthly cost (those the quote's totals count)."""
    counted = ~np.isnan(result["base_usd"])
    return {key: float(np.sum(np.where(counted, values, 0.0))) for key, values in result.items() if key != "error"}


#: The options of owned hardware's GPU-hour (``owned_gpu_hour_many``).
OWNING_OPTIONS = ("capex_usd_per_gpu", "depreciation_years", "residual_share", "cost_of_capital", "power_w_per_gpu",
                  "pue", "electricity_usd_per_kwh", "hosting_usd_per_kw_month", "maintenance_share_per_year")


def owned_gpu_hour_many(hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                        **options: Any) -> dict[str, np.ndarray]:
    """USD per GPU-hour of hardware you own (``owned_usd_per_gpu_hour``, with ``error``): the catalog's
    purchase price and TDP where ``capex_usd_per_gpu`` and ``power_w_per_gpu`` are not given, and the
    defaults of the other options. Columns or single values."""
    from .inputs import RowErrors, check_rule, length_of, text_column
    from .options import BY_NAME

    unknown = sorted(set(options) - set(OWNING_OPTIONS))
    if unknown:
        raise InvalidValueError(f"Unknown option '{unknown[0]}'. Options: {', '.join(OWNING_OPTIONS)}.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    sizes = {size for size in (length_of(v) for v in [hardware, *options.values()]) if size is not None}
    if len(sizes) > 1:
        raise InvalidValueError("Columns must have the same length. Give single values or columns of one length.")
    n: int = sizes.pop() if sizes else 1
    errs = RowErrors(n)
    column, single = text_column(hardware)
    names = np.broadcast_to(np.asarray([single], dtype=object), (n,)) if column is None else column
    catalog_capex, catalog_power = np.full(n, np.nan), np.full(n, np.nan)
    for i, name in enumerate(names.tolist()):
        if name is None or (isinstance(name, str) and not name.strip()):
            continue
        try:
            entry = cat.hardware(str(name))
        except LlmcalcError as exc:
            errs.add(np.arange(n) == i, str(exc))
            continue
        catalog_capex[i] = entry.capex_usd_per_gpu if entry.capex_usd_per_gpu is not None else np.nan
        catalog_power[i] = entry.tdp_w if entry.tdp_w is not None else np.nan
    nums = {}
    for name in OWNING_OPTIONS:
        from .inputs import numbers_column

        value = numbers_column(name, options.get(name), n, errs)
        check_rule(name, value, errs, **BY_NAME[name].rule)
        default = BY_NAME[name].default
        nums[name] = np.where(np.isnan(value), np.nan if default is None else float(default), value)
    capex = np.where(np.isnan(nums["capex_usd_per_gpu"]), catalog_capex, nums["capex_usd_per_gpu"])
    power = np.where(np.isnan(nums["power_w_per_gpu"]), catalog_power, nums["power_w_per_gpu"])
    for value, option, what in ((capex, "capex_usd_per_gpu", "purchase price"), (power, "power_w_per_gpu", "power draw")):
        missing = np.isnan(value)
        if missing.any():
            errs.add(missing, f"{option} is needed: give it, or a hardware id whose catalog entry has a {what}")
    hourly = _cost.owned_usd_per_gpu_hour(capex, nums["depreciation_years"], nums["residual_share"],
                                          nums["cost_of_capital"], power, nums["pue"], nums["electricity_usd_per_kwh"],
                                          nums["hosting_usd_per_kw_month"], nums["maintenance_share_per_year"],
                                          defaults.ASSUMPTIONS.hours_per_month)
    return {"owned_usd_per_gpu_hour": np.where(np.equal(errs.messages, NONE), hourly, np.nan),
            "error": errs.messages}
