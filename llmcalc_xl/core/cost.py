"""Cost: API tokens, self-hosted GPU time, per request, per million tokens, per month.

Pure functions of numpy arrays, written with the operations the workbook can also write as
formulas (see ``memory``); money in USD.
"""

from __future__ import annotations

import numpy as np

from ..units import HOURS_PER_MONTH, SECONDS_PER_HOUR, TOKENS_PER_MTOK


def token_cost_usd(input_tokens, cached_input_tokens, output_tokens,
                   input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok):
    """What an API charges for one request. Cached input tokens are billed at the cache-read
    price (the input price where the provider offers none). 500 GPT-4 output tokens at
    $60 per million: $0.03."""
    cached_price = np.where(np.isnan(cached_input_usd_per_mtok), input_usd_per_mtok,
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
    return np.where(produces, cost_per_request_usd / np.where(produces, output_tokens, 1.0) * TOKENS_PER_MTOK,
                    np.nan)


def fixed_monthly_usd(gpus, price_usd_per_hour, hours_per_month=HOURS_PER_MONTH):
    """One always-on deployment for a month: GPUs x USD/h x 730 h."""
    return gpus * price_usd_per_hour * hours_per_month


def capacity_requests_per_month(sequences, latency_s, utilization=1.0, hours_per_month=HOURS_PER_MONTH):
    """Requests one deployment serves in a month: sequences at once, one batch per latency,
    for the share of the month it is busy."""
    return sequences / latency_s * SECONDS_PER_HOUR * hours_per_month * utilization


def replicas_needed(requests_per_month, capacity):
    """Deployments needed for a month's traffic (at least one while there is traffic)."""
    return np.where(requests_per_month > 0, np.maximum(np.ceil(requests_per_month / capacity), 1.0), 0.0)


def breakeven_requests_per_month(fixed_usd, api_cost_per_request_usd, capacity):
    """Monthly requests above which one always-on deployment is cheaper than the API:
    fixed cost / API cost per request. Infinite when the API is cheaper even with the
    deployment fully busy (its cost per request at capacity is above the API's). NaN when the
    deployment's price or capacity is unknown."""
    api = np.asarray(api_cost_per_request_usd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        volume = np.asarray(fixed_usd, dtype=float) / api
    reachable = (api > 0) & (volume <= capacity)
    unknown = np.isnan(np.asarray(fixed_usd, dtype=float)) | np.isnan(np.asarray(capacity, dtype=float)) | np.isnan(api)
    return np.where(unknown, np.nan, np.where(reachable, volume, np.inf))
