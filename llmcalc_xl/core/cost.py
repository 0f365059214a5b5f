"""Cost: API tokens, self-hosted GPU time, per request, per million tokens, per month.

Pure functions of numpy arrays, written with the operations the workbook can also write as
formulas (see ``memory``); money in USD.
"""

from __future__ import annotations

import numpy as np

from .arrays import where

from ..units import HOURS_PER_DAY, HOURS_PER_MONTH, SECONDS_PER_HOUR, TOKENS_PER_MTOK


def token_cost_usd(input_tokens, cached_input_tokens, output_tokens,
                   input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok):
    """What an API charges for one request. Cached input tokens are billed at the cache-read
    price (the input price where the provider offers none). 500 GPT-4 output tokens at
    $60 per million: $0.03."""
    cached_price = where(np.isnan(cached_input_usd_per_mtok), input_usd_per_mtok,
                            cached_input_usd_per_mtok)
    return ((input_tokens - cached_input_tokens) * input_usd_per_mtok + cached_input_tokens * cached_price
            + output_tokens * output_usd_per_mtok) / TOKENS_PER_MTOK


def infra_cost_usd(gpus, price_usd_per_hour, latency_s, sequences, utilization=1.0):
    """Self-hosted GPU time of one request: GPUs x USD/h x seconds / 3600, shared by the
    sequences served at once, divided by the share of time the GPUs do useful work.
    3.5 s of one A100 at $2.50/h: $0.00243."""
    return gpus * price_usd_per_hour * latency_s / SECONDS_PER_HOUR / sequences / utilization


def cost_per_mtok_usd(cost_per_request_usd, output_tokens):
    """USD per million output tokens (NaN for a request that produces none)."""
    produces = output_tokens > 0
    return where(produces, cost_per_request_usd / where(produces, output_tokens, 1.0) * TOKENS_PER_MTOK,
                    np.nan)


def fixed_monthly_usd(gpus, price_usd_per_hour, hours_per_month=HOURS_PER_MONTH):
    """One always-on deployment for a month: GPUs x USD/h x 730 h."""
    return gpus * price_usd_per_hour * hours_per_month


# --- the cost of a GPU-hour you own --------------------------------------------------------------
# One GPU-hour of owned hardware costs its capital (purchase, less what it fetches at the end, spread
# over its life) plus the electricity it and its share of cooling draw, plus colocation and
# maintenance. README, "Own, rent or API", works the example: 30,000 USD over 4 years straight line
# and 0.7 kW x PUE 1.3 x 0.12 USD/kWh is 0.8562 + 0.1092 = 0.9654 USD per GPU-hour.

def capital_recovery_factor(rate, years):
    """The share of a sum repaid each year so that ``years`` equal payments repay it with interest
    ``rate`` a year: r / (1 - (1 + r)^-n) (the "capital recovery factor" (A/P, r, n) of engineering
    economics); 1 / n at a rate of 0, the straight line. 10% over 4 years: 0.3155."""
    r = where(rate > 0, rate, 1.0)
    return where(rate > 0, r / (1.0 - (1.0 + r) ** -years), 1.0 / years)


def capital_usd_per_hour(capex_usd, years, residual_share, rate, hours_per_month=HOURS_PER_MONTH):
    """The purchase, less the present value of what it fetches at the end, repaid in equal payments
    over its life, per hour of the year (12 x the hours of a month): (capex - residual / (1 + r)^n)
    x CRF(r, n) / 8760 h. At r = 0 the straight line (capex - residual) / (n x 8760 h); above 0 the
    same as (capex - residual) x CRF + residual x r, the textbook's capital recovery cost.
    30,000 USD over 4 years at 0: 0.8562 USD an hour."""
    residual = capex_usd * residual_share
    return (capex_usd - residual * (1.0 + rate) ** -years) * capital_recovery_factor(rate, years) \
        / (12.0 * hours_per_month)


def power_usd_per_hour(power_w, pue, usd_per_kwh):
    """Electricity for an hour of one GPU: its draw in kW x PUE (the site's power over the IT power,
    cooling included) x the price of a kWh. 700 W x 1.3 x 0.12 USD: 0.1092 USD."""
    return power_w / 1000.0 * pue * usd_per_kwh


def hosting_usd_per_hour(power_w, usd_per_kw_month, hours_per_month=HOURS_PER_MONTH):
    """Colocation, priced per kW of IT power a month, for an hour of one GPU."""
    return power_w / 1000.0 * usd_per_kw_month / hours_per_month


def maintenance_usd_per_hour(capex_usd, share_per_year, hours_per_month=HOURS_PER_MONTH):
    """Maintenance and support priced as a share of the purchase a year, per hour."""
    return capex_usd * share_per_year / (12.0 * hours_per_month)


def owned_usd_per_gpu_hour(capex_usd, years, residual_share, rate, power_w, pue, usd_per_kwh, hosting_usd_per_kw_month,
                           maintenance_share_per_year, hours_per_month=HOURS_PER_MONTH):
    """What an hour of a GPU you own costs: capital + power + hosting + maintenance (the parts above)."""
    return (capital_usd_per_hour(capex_usd, years, residual_share, rate, hours_per_month)
            + power_usd_per_hour(power_w, pue, usd_per_kwh)
            + hosting_usd_per_hour(power_w, hosting_usd_per_kw_month, hours_per_month)
            + maintenance_usd_per_hour(capex_usd, maintenance_share_per_year, hours_per_month))


def capacity_requests_per_month(sequences, latency_s, utilization=1.0, hours_per_month=HOURS_PER_MONTH):
    """Requests one deployment serves in a month: sequences at once, one batch per latency,
    for the share of the month it is busy."""
    return sequences / latency_s * SECONDS_PER_HOUR * hours_per_month * utilization


def replicas_needed(requests_per_month, capacity, peak_to_average=1.0, spares=0.0):
    """Deployments needed for a month's traffic: enough for the peak (the average load x
    peak_to_average) at the capacity of one, at least one, plus ``spares`` (N+k); none without
    traffic. 3 million requests at a peak of 2 on replicas of 1.5 million, N+1: 5."""
    return where(requests_per_month > 0,
                    np.maximum(np.ceil(requests_per_month * peak_to_average / capacity), 1.0) + spares, 0.0)


def off_peak_ratio(peak_to_average, peak_hours_per_day):
    """The load outside the peak hours over the day's average, in a two-level day that averages 1:
    ``peak_hours_per_day`` hours at ``peak_to_average`` x the average, the other hours at what is
    left, (24 - peak x hours) / (24 - hours). A peak of 2 for 8 hours leaves 0.5 for the other 16;
    a peak that lasts all day leaves no other hours (1)."""
    off_hours = HOURS_PER_DAY - peak_hours_per_day
    left = HOURS_PER_DAY - peak_to_average * peak_hours_per_day
    return where(off_hours > 0, np.maximum(left, 0.0) / where(off_hours > 0, off_hours, 1.0), 1.0)


def paid_replicas(requests_per_month, capacity, peak_to_average, spares, autoscale, peak_hours_per_day):
    """Replicas paid for on average over a day. Always-on replicas: those the peak needs
    (:func:`replicas_needed`). With ``autoscale``, rented replicas follow the two-level day of
    :func:`off_peak_ratio`: the peak's replicas for ``peak_hours_per_day`` hours, and for the other
    hours those the off-peak load needs (at least one, plus the same spares). 3 million requests
    on replicas of 1.5 million at a peak of 2 for 8 hours: 4 replicas for 8 hours and 1 for 16,
    2 on average."""
    peak = replicas_needed(requests_per_month, capacity, peak_to_average, spares)
    off = replicas_needed(requests_per_month, capacity, off_peak_ratio(peak_to_average, peak_hours_per_day), spares)
    scaled = (peak_hours_per_day * peak + (HOURS_PER_DAY - peak_hours_per_day) * off) / HOURS_PER_DAY
    return where(autoscale, scaled, peak)


def fleet_breakeven_parts(replica_usd_per_month, api_cost_per_request_usd, capacity, peak_to_average, spares):
    """(volume, reachable) of the smallest monthly volume V at which an always-on fleet (replicas for
    the peak plus ``spares``) costs no more than the API: (n + k) x F <= V x a, with F one replica's
    monthly cost, a the API's cost per request, C a replica's capacity, p the peak ratio, k the spares
    and n = max(1, ceil(V x p / C)) the replicas the peak needs. V = (n + k) x F / a for the fewest
    n >= 1 whose volume still fits them: n = max(1, ceil(k x F x p / (a x C - F x p))).
    ``reachable`` is False (never) when a x C < F x p, or = with spares (a replica busy at the peak
    then earns no more than it costs). Written with the workbook's operations: the quote's break-even
    column is this function on its cells (``plan.fleet_breakeven_requests_per_month`` on arrays)."""
    f, a, c, p, k = replica_usd_per_month, api_cost_per_request_usd, capacity, peak_to_average, spares
    margin = a * c - f * p  # what one more replica at the peak earns over its cost, per C/p requests
    n = where(k > 0, np.maximum(1.0, np.ceil(k * f * p / where(margin > 0, margin, 1.0) * (1.0 - 1e-12))), 1.0)
    volume = (n + k) * f / where(a > 0, a, 1.0)
    reachable = (a > 0) & where(k > 0, margin > 0, margin >= 0)
    return volume, reachable
