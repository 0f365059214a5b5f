"""Over time and what moves the cost: the horizon forecast and the sensitivity, stated once.

Pure functions written with numpy's operators, ``where`` (``core/arrays``), ``np.maximum`` and ``np.isnan``
only (the rules of ``physics``), so that two callers get the same arithmetic:

- the core (``plan.horizon_many``, ``plan.sensitivity_many``) passes arrays, one value per scenario;
- the quote workbook passes formula symbols and gets the formulas of its Forecast and Sensitivity
  sheets (``workbook/forecast_sheets.py``).

``let(name, month, value)`` names a quantity (``month`` None for one per scenario): the core keeps
the value, the workbook writes a cell and refers to it from then on.

Conventions (README, "Own, rent or API"):

- Month 1 is the quote's month: its cost is the quote's monthly cost. Month m carries traffic
  x (1 + growth_per_month)^(m-1), rented GPU-hours at x (1 + gpu_price_change_per_year)^((m-1)/12)
  and API tokens at x (1 + api_price_change_per_year)^((m-1)/12) (yearly changes compounded monthly).
- Rented replicas follow the month's traffic (with ``autoscale``, on-demand and spot ones follow the day's
  load too, on average). Owned hardware is never sold: its fleet is sized for
  the most traffic so far, at its own GPU-hour (prices of bought hardware do not change), or, with
  ``capex_upfront`` and a cost of capital of 0, its running costs plus each purchase in the month it
  is made (no value is credited for hardware left at the end of the horizon).
- Cash flows fall at the end of each month: the NPV discounts month m by (1 + discount_rate)^(-m/12).
- ``crossover_month``: the first month whose cumulative cost puts the other option ahead, i.e. where
  the option dearer in month 1 becomes the cheaper to date. NaN when the lead never changes within
  the horizon (one option is cheaper from the first month on, or the two never meet). Amounts within
  half a cent (``MONEY_TIE_USD``) are equal: neither leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import cost as _cost
from .arrays import where
from .physics import given
from .defaults import MAX_HORIZON_MONTHS, MONEY_TIE_USD

MonthLet = Callable[[str, Any, Any], Any]


def keep(name: str, month: Any, value: Any) -> Any:
    """The core's ``let``: a named quantity is just its value."""
    return value


@dataclass(frozen=True)
class Base:
    """What a month of a scenario costs is built from (arrays over scenarios, or formula symbols).
    Money in USD; NaN where the scenario has no monthly cost."""

    requests: Any       # requests in month 1 (the quote's requests_per_month)
    peak_ratio: Any
    spares: Any
    capacity: Any       # requests one replica serves in a month
    deployment: Any     # USD per replica-month at today's GPU-hour
    token_cost: Any     # API tokens of one request (API models)
    infra: Any          # GPU time of one request (API models run on a device of the caller's)
    is_api: Any
    hosted: Any         # a self-hosted model on a device
    owned: Any          # GPU-hours priced as owned hardware
    upfront: Any        # owned hardware paying its purchase when bought
    running: Any        # USD per replica-month of owned hardware without its capital
    capex_per_replica: Any  # USD of one replica's purchase
    api_request: Any    # the compared API's price of one request of this scenario
    scaled: Any         # rented replicas follow the day's load (autoscale yes, neither owned nor reserved)
    peak_hours: Any     # hours a day at the peak (peak_hours_per_day)


def base(requests, peak_ratio, spares, capacity, deployment, token_cost, infra, is_api, hosted, owned, upfront_yes,
         rate, price_given, capex, own_capital, gpus, api_request, hours_per_month, autoscale,
         peak_hours) -> Base:
    """The Base of a scenario from the estimate's quantities. The purchase is paid up front only for
    owned hardware with ``capex_upfront`` yes, a cost of capital of 0, a known purchase price and no
    price_per_hour given (a given price says nothing of its capital)."""
    upfront = owned & upfront_yes & (rate == 0) & ~price_given & given(capex)
    return Base(requests=requests, peak_ratio=peak_ratio, spares=spares, capacity=capacity, deployment=deployment,
                token_cost=token_cost, infra=infra, is_api=is_api, hosted=hosted, owned=owned, upfront=upfront,
                running=deployment - gpus * own_capital * hours_per_month, capex_per_replica=gpus * capex,
                api_request=api_request, scaled=autoscale & ~owned, peak_hours=peak_hours)


@dataclass(frozen=True)
class Horizon:
    months: Any      # horizon_months
    growth: Any      # growth_per_month
    api_change: Any  # api_price_change_per_year
    gpu_change: Any  # gpu_price_change_per_year
    discount: Any    # discount_rate (a year)


@dataclass(frozen=True)
class Totals:
    total: Any       # USD over the horizon, the scenario as quoted
    total_api: Any   # USD over the horizon, the same traffic on the compared API
    npv: Any         # net present value of the scenario's costs
    npv_api: Any
    crossover: Any   # crossover month (NaN: none)


def _replicas(b: Base, requests: Any, scaled: Any = False) -> Any:
    """As physics.costs: replicas of a self-hosted scenario paid for in a month of these requests
    (``scaled``: rented replicas following the day's load, on average)."""
    return where(b.hosted & given(requests),
                    _cost.paid_replicas(requests, b.capacity, b.peak_ratio, b.spares, scaled, b.peak_hours), np.nan)


def forecast(b: Base, h: Horizon, let: MonthLet = keep, months: int = MAX_HORIZON_MONTHS) -> Totals:
    """Month by month over ``months``: the cost of the scenario as quoted ("quoted") and of the same
    traffic on the compared API ("api"), NaN past the scenario's horizon; their cumulative sums
    (past the horizon, the horizon's total); the crossover found so far; then the totals and NPVs."""
    cum_q: Any = np.nan
    cum_a: Any = np.nan
    total_q: Any = 0.0
    total_a: Any = 0.0
    npv_q: Any = 0.0
    npv_a: Any = 0.0
    cross: Any = np.nan
    fleet_before: Any = 0.0
    dearer_first: Any = None
    first_q: Any = np.nan
    first_a: Any = np.nan
    for m in range(1, months + 1):
        inside = h.months >= m
        traffic = (1.0 + h.growth) ** (m - 1.0)
        gpu_f = (1.0 + h.gpu_change) ** ((m - 1.0) / 12.0)
        api_f = (1.0 + h.api_change) ** ((m - 1.0) / 12.0)
        requests = let("requests", m, where(inside, b.requests * traffic, np.nan))
        # replicas paid for: rented ones follow the month's traffic; owned hardware is never sold, so its
        # fleet is sized for the most traffic so far
        replicas = let("replicas", m, where(inside, where(
            b.owned, _replicas(b, b.requests * np.maximum(traffic, 1.0)), _replicas(b, requests, b.scaled)), np.nan))
        owned = where(b.upfront, replicas * b.running + (replicas - fleet_before) * b.capex_per_replica,
                         replicas * b.deployment)
        fleet_before = replicas
        quoted = where(b.is_api, requests * (b.token_cost * api_f + b.infra * gpu_f),
                          requests * b.token_cost * api_f
                          + where(b.owned, owned, replicas * b.deployment * gpu_f))
        quoted = let("quoted", m, where(inside, quoted, np.nan))
        api = let("api", m, where(inside, requests * b.api_request * api_f, np.nan))
        # cumulative to date: past the horizon it stays at the horizon's total
        cum_q = let("cum_quoted", m, quoted if m == 1 else where(inside, cum_q + quoted, cum_q))
        cum_a = let("cum_api", m, api if m == 1 else where(inside, cum_a + api, cum_a))
        if dearer_first is None:
            dearer_first = let("dearer_first", None, quoted > api + MONEY_TIE_USD)
            first_q, first_a = quoted, api  # a scenario without a first month has no totals
        cross = let("crossover", m, crossover_step(cross, m, dearer_first, cum_q, cum_a))
        discount = (1.0 + h.discount) ** (-m / 12.0)  # end-of-month cash flows
        total_q = total_q + where(inside, quoted, 0.0)
        total_a = total_a + where(inside, api, 0.0)
        npv_q = npv_q + where(inside, quoted * discount, 0.0)
        npv_a = npv_a + where(inside, api * discount, 0.0)
    q, a = given(first_q), given(first_a)
    return Totals(total=let("horizon_cost_usd", None, where(q, total_q, np.nan)),
                  total_api=let("horizon_cost_api_usd", None, where(a, total_a, np.nan)),
                  npv=let("npv_usd", None, where(q, npv_q, np.nan)),
                  npv_api=let("npv_api_usd", None, where(a, npv_a, np.nan)),
                  crossover=let("crossover_month", None, cross))


def crossover_step(cross: Any, m: int, dearer_first: Any, cum_q: Any, cum_a: Any) -> Any:
    """The crossover month found by month m: the one found before, else m where the option dearer
    in month 1 (``dearer_first``: the scenario as quoted, by more than half a cent) is now the cheaper
    to date by more than half a cent, else NaN.
    A month without a cumulative cost (past the horizon) compares False, as NaN does."""
    flip = where(dearer_first, cum_q < cum_a - MONEY_TIE_USD, cum_a < cum_q - MONEY_TIE_USD)
    return where(given(cross), cross, where(flip, float(m), np.nan))


def crossover_of(cum_q: list, cum_a: list, let: MonthLet = keep) -> Any:
    """The crossover month of two cumulative series (the quote's totals, month by month)."""
    cross: Any = np.nan
    dearer_first = cum_q[0] > cum_a[0] + MONEY_TIE_USD
    for m, (q, a) in enumerate(zip(cum_q, cum_a), start=1):
        cross = let("crossover", m, crossover_step(cross, m, dearer_first, q, a))
    return cross


def month_total(month: Any, longest: Any, total: Any) -> Any:
    """A month's total over the scenarios counted: NaN past the longest of their horizons."""
    return where(month <= longest, total, np.nan)


# --- sensitivity: the monthly cost when one driver moves -----------------------------------------

#: The drivers, in the order the Sensitivity sheet and `llmcalc-xl sensitivity` show them: key, label.
DRIVERS = (
    ("gpu_price", "GPU price (USD per GPU-hour)"),
    ("throughput", "Throughput (requests a replica serves)"),
    ("requests", "Requests per month"),
    ("tokens", "Tokens per request"),
    ("utilization", "Utilisation"),
    ("api_price", "API price (USD per token)"),
    ("capex", "Capex (owned hardware)"),
    ("depreciation_years", "Depreciation years (owned hardware)"),
    ("electricity", "Electricity price (owned hardware)"),
)


@dataclass(frozen=True)
class SensitivityBase:
    """The quantities the monthly cost is rebuilt from when a driver moves."""

    requests: Any
    peak_ratio: Any
    spares: Any
    capacity: Any
    deployment: Any
    token_cost: Any
    infra: Any
    is_api: Any
    hosted: Any
    util: Any
    gpus: Any
    owned_parts: Any   # the GPU-hour is owned hardware's own cost (owned, no price_per_hour given)
    own_capital: Any   # USD per GPU-hour
    own_power: Any
    own_maintenance: Any
    capex: Any
    years: Any
    residual: Any
    rate: Any
    hours_per_month: Any
    scaled: Any      # rented replicas follow the day's load (autoscale yes, neither owned nor reserved)
    peak_hours: Any  # hours a day at the peak


def monthly_usd(b: SensitivityBase, requests, capacity, deployment, token_cost, infra) -> Any:
    """The month's cost as ``physics.costs`` computes it, from the quantities a driver moves."""
    replicas = where(b.hosted & given(requests), _cost.paid_replicas(
        requests, capacity, b.peak_ratio, b.spares, b.scaled, b.peak_hours), np.nan)
    return where(b.is_api, requests * (token_cost + infra), requests * token_cost + replicas * deployment)


def sensitivity(b: SensitivityBase, share: Any, let: Callable[[str, Any], Any] | None = None) -> dict[str, Any]:
    """The monthly cost with each driver moved down and up by ``share`` (0.2: 20%), as
    ``{"<driver>_down": ..., "<driver>_up": ...}``, and ``base``. A driver that does not act on a
    scenario (capex of rented GPUs, the API price of a self-hosted model) leaves its cost as it is.

    - GPU price: USD per GPU-hour x f (the deployment, and an API row's own GPU time).
    - Throughput: the requests a replica serves x f (an API row's GPU time / f).
    - Requests per month x f.
    - Tokens per request x f: API tokens x f, and the time a request takes x f (first order: the
      busy time of a request in proportion to its tokens), so the capacity / f.
    - Utilisation x f, at most 1: the capacity in proportion.
    - API price: token prices x f.
    - Owned hardware (its own GPU-hour): capex x f moves capital and maintenance; depreciation years
      x f recomputes the capital; electricity x f moves the power part.
    """
    name = let or (lambda key, value: value)
    R, C, D, T, G = b.requests, b.capacity, b.deployment, b.token_cost, b.infra  # G: a request's GPU time
    per_replica_hour = b.gpus * b.hours_per_month  # a USD per GPU-hour change, per replica-month
    out = {"base": name("base", monthly_usd(b, R, C, D, T, G))}
    for side, f in (("down", 1.0 - share), ("up", 1.0 + share)):
        util = np.minimum(b.util * f, 1.0)
        capital = _cost.capital_usd_per_hour(b.capex, b.years * f, b.residual, b.rate, b.hours_per_month)

        def owned(delta_per_gpu_hour):
            return D + where(b.owned_parts, per_replica_hour * delta_per_gpu_hour, 0.0)

        moved = {
            "gpu_price": monthly_usd(b, R, C, D * f, T, G * f),
            "throughput": monthly_usd(b, R, C * f, D, T, G / f),
            "requests": monthly_usd(b, R * f, C, D, T, G),
            "tokens": monthly_usd(b, R, C / f, D, T * f, G * f),
            "utilization": monthly_usd(b, R, C * util / b.util, D, T, G * b.util / util),
            "api_price": monthly_usd(b, R, C, D, T * f, G),
            "capex": monthly_usd(b, R, C, owned((b.own_capital + b.own_maintenance) * (f - 1.0)), T, G),
            "depreciation_years": monthly_usd(b, R, C, owned(capital - b.own_capital), T, G),
            "electricity": monthly_usd(b, R, C, owned(b.own_power * (f - 1.0)), T, G),
        }
        for key, _ in DRIVERS:
            out[f"{key}_{side}"] = name(f"{key}_{side}", moved[key])
    return out


def changes_usd(down: Any, base: Any, up: Any) -> tuple[Any, Any]:
    """A driver's changes of the monthly cost, down and up (NaN where a figure is missing)."""
    return down - base, up - base


def swing_usd(change_down: Any, change_up: Any) -> Any:
    """How far a driver moves the monthly cost from down to up, to the cent (swings equal but for
    rounding noise are equal), 0 where a change is missing."""
    swing = np.round(np.abs(change_up - change_down), 2)
    return where(np.isnan(swing), 0.0, swing)


def swing_ranks(swings: list) -> list:
    """Each driver's place in the tornado, 1 the widest swing; a tie puts the earlier driver first
    (as a stable sort does), so that each place from 1 to len(swings) is taken once."""
    return [1 + sum((other >= mine) if j < i else (other > mine) for j, other in enumerate(swings) if j != i)
            for i, mine in enumerate(swings)]
