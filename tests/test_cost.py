"""Cost: API tokens, GPU time, per request, per million tokens, per month, break-even."""

import math

import numpy as np
import pytest

from llmcalc_xl.core import cost
from llmcalc_xl.core.plan import fleet_breakeven_requests_per_month
from llmcalc_xl import estimate

TINY = "tests/data/tiny.toml"


def test_research_notes_worked_example():
    # 500 GPT-4 output tokens at $0.06 per 1K = $0.03; 3.5 s of an A100 at $2.50/h = $0.00243;
    # total $0.0324 per request
    r = estimate("gpt-4", "a100-40gb", input_tokens=0, output_tokens=500, latency_s=3.5, price_per_hour=2.5)
    assert r.token_cost_usd == pytest.approx(0.03, abs=1e-12)
    assert r.infra_cost_usd == pytest.approx(3.5 / 3600 * 2.5, rel=1e-12)
    assert round(r.cost_per_request_usd, 4) == 0.0324  # the notes round to 4 decimals
    assert r.cost_per_request_usd == pytest.approx(0.03 + 3.5 / 3600 * 2.5, rel=1e-12)


def test_api_token_cost_with_cached_input():
    # toy-api: $1 in, $0.25 cached in, $4 out per million tokens
    r = estimate("toy-api", catalog=[TINY], input_tokens=10_000, cached_input_tokens=4_000, output_tokens=1_000)
    assert r.token_cost_usd == pytest.approx((6_000 * 1 + 4_000 * 0.25 + 1_000 * 4) / 1e6, rel=1e-12)
    assert r.infra_cost_usd == 0.0
    assert r.cost_per_mtok_usd == pytest.approx(r.token_cost_usd / 1_000 * 1e6, rel=1e-12)


def test_cached_price_falls_back_to_input_price():
    got = cost.token_cost_usd(100, 50, 0, 2.0, np.nan, 8.0)
    assert got == pytest.approx(100 * 2.0 / 1e6)


def test_infra_cost_is_shared_by_the_sequences_served_at_once():
    # 4 GPUs at $2/h busy 10 s, 8 sequences at once: 4 x 2 x 10 / 3600 / 8
    assert cost.infra_cost_usd(4, 2.0, 10.0, 8) == pytest.approx(4 * 2 * 10 / 3600 / 8)
    assert cost.infra_cost_usd(1, 2.0, 10.0, 1, utilization=0.5) == pytest.approx(2 * 2 * 10 / 3600)


def test_self_hosted_cost_per_million_tokens_matches_gpu_time():
    r = estimate("llama-3-8b", "h100-sxm", batch=16)
    # GPUs x USD/h / (3600 x output tokens/s) x 1e6, the textbook form
    expected = r.gpus * r.price_per_hour / (3600 * r.throughput_tokens_per_s) * 1e6
    assert r.cost_per_mtok_usd == pytest.approx(expected, rel=1e-9)


def test_monthly_cost_counts_always_on_replicas():
    r = estimate("llama-3-8b", "l4", requests_per_month=1_000_000)
    replicas = math.ceil(1_000_000 / r.capacity_requests_per_month)
    assert r.replicas_needed == replicas
    assert r.deployment_usd_per_month == pytest.approx(r.price_per_hour * 730, rel=1e-12)
    assert r.monthly_cost_usd == pytest.approx(replicas * r.price_per_hour * 730, rel=1e-12)


def test_api_monthly_cost_is_tokens_times_requests():
    r = estimate("gpt-4o-mini", input_tokens=1000, output_tokens=500, requests_per_month=2_000_000)
    assert r.monthly_cost_usd == pytest.approx(2_000_000 * r.token_cost_usd, rel=1e-12)


def test_one_replica_breakeven_is_fixed_cost_over_api_cost():
    # one replica, no peak, no spares: $1,460 a month fixed; API $0.01 a request -> 146,000 requests;
    # capacity 1M a month
    def one_replica(fixed_usd, api_usd, capacity):
        return float(fleet_breakeven_requests_per_month(fixed_usd, api_usd, capacity, peak_to_average=1.0,
                                                        redundancy=0))

    assert one_replica(1460.0, 0.01, 1e6) == pytest.approx(146_000)
    # the API is cheaper even at full load: never
    assert math.isinf(one_replica(1460.0, 0.001, 1e6))
    # an unpriced deployment or one of unknown speed: no answer, not "never"
    assert math.isnan(one_replica(np.nan, 0.01, 1e6))
    assert math.isnan(one_replica(1460.0, 0.01, np.nan))


def test_local_hardware_without_a_sourced_purchase_price_is_not_free():
    # no rental price, and no sourced capex for this Mac: no cost and a note, never a cost of 0
    r = estimate("llama-3-8b", "apple-m2-max", precision="q4_k_m")
    assert r.infra_cost_usd is None and r.price_per_hour is None
    assert [n.kind for n in r.notes] == ["no_price"]
    priced = estimate("llama-3-8b", "apple-m2-max", precision="q4_k_m", price_per_hour=0.5)
    assert priced.infra_cost_usd == pytest.approx(0.5 * priced.latency_s / 3600, rel=1e-12)
