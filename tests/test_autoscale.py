"""autoscale: rented replicas following a two-level day (README, "Own, rent or API"), against
replica counts done by hand here.

Fixed capacity: latency_s 3.6 s at batch 1 and utilisation 1 makes a replica's capacity
1 / 3.6 x 3600 x 730 h = 730,000 requests a month; one H100 at 2 USD an hour is 1,460 USD a month.
"""

import math

import numpy as np
import pytest

from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.core import cost
from llmcalc_xl.core.plan import horizon_many, sensitivity_many
from llmcalc_xl.errors import InvalidValueError

CAPACITY = 730_000
DEPLOYMENT = 1460.0
FIXED = dict(hardware="h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=2_190_000)


def test_the_off_peak_load_is_what_the_peak_leaves_of_the_day():
    # a peak of 2 for 8 hours carries 16 of the day's 24 average-hours: 8 left for 16 hours, 0.5
    assert cost.off_peak_ratio(2.0, 8.0) == pytest.approx(0.5)
    assert cost.off_peak_ratio(3.0, 8.0) == pytest.approx(0.0)  # all the traffic in the peak
    assert cost.off_peak_ratio(1.0, 8.0) == pytest.approx(1.0)  # a flat day
    assert cost.off_peak_ratio(1.0, 24.0) == pytest.approx(1.0)  # no other hours
    assert cost.off_peak_ratio(1.5, 12.0) == pytest.approx(0.5)  # 18 average-hours in 12, 6 in the other 12


def test_paid_replicas_by_hand():
    # 3 million requests on replicas of 1.5 million, a peak of 2 for 8 hours: 4 replicas for 8 hours,
    # ceil(3e6 x 0.5 / 1.5e6) = 1 for 16 hours: (8 x 4 + 16 x 1) / 24 = 2
    assert cost.paid_replicas(3e6, 1.5e6, 2.0, 0.0, True, 8.0) == pytest.approx(2.0)
    assert cost.paid_replicas(3e6, 1.5e6, 2.0, 0.0, False, 8.0) == pytest.approx(4.0)  # always on
    # N+1: 5 at the peak, 2 off it: (8 x 5 + 16 x 2) / 24 = 3
    assert cost.paid_replicas(3e6, 1.5e6, 2.0, 1.0, True, 8.0) == pytest.approx(3.0)
    # no traffic: none, autoscaled or not
    assert cost.paid_replicas(0.0, 1.5e6, 2.0, 0.0, True, 8.0) == 0.0


def test_rented_replicas_follow_the_day():
    # peak: 2,190,000 x 2 / 730,000 = 6 replicas for 8 hours; off-peak 2,190,000 x 0.5 / 730,000 = 1.5,
    # so 2 replicas for 16 hours: 80 / 24 replica-months on average
    r = estimate("llama-3-8b", peak_to_average=2, autoscale="yes", **FIXED).to_dict()
    assert r["replicas_needed"] == 6
    assert r["average_replicas"] == pytest.approx(80 / 24, rel=1e-12)
    assert r["monthly_cost_usd"] == pytest.approx(80 / 24 * DEPLOYMENT, rel=1e-12)
    assert r["effective_cost_per_request_usd"] == pytest.approx(80 / 24 * DEPLOYMENT / 2_190_000, rel=1e-12)
    always_on = estimate("llama-3-8b", peak_to_average=2, **FIXED).to_dict()
    assert always_on["average_replicas"] == 6
    assert always_on["monthly_cost_usd"] == pytest.approx(6 * DEPLOYMENT, rel=1e-12)


def test_peak_hours_per_day_sets_the_shape():
    # a peak of 1.5 for 12 hours: 2,190,000 x 1.5 / 730,000 = 4.5 -> 5; the other 12 hours at 0.5: 1.5 -> 2
    r = estimate("llama-3-8b", peak_to_average=1.5, autoscale="Yes", peak_hours_per_day=12, **FIXED).to_dict()
    assert r["average_replicas"] == pytest.approx((12 * 5 + 12 * 2) / 24, rel=1e-12)


def test_owned_hardware_is_paid_for_all_day():
    owned = dict(hardware="h100-sxm", pricing="owned", capex_usd_per_gpu=30000, power_w_per_gpu=700, latency_s=3.6,
                 requests_per_month=2_190_000, peak_to_average=2)
    scaled = estimate("llama-3-8b", autoscale="yes", **owned).to_dict()
    on = estimate("llama-3-8b", **owned).to_dict()
    assert scaled["average_replicas"] == scaled["replicas_needed"] == 6
    assert scaled["monthly_cost_usd"] == on["monthly_cost_usd"]


def test_a_flat_day_changes_nothing_and_api_models_have_no_replicas():
    flat = estimate("llama-3-8b", autoscale="yes", **FIXED).to_dict()
    assert flat["average_replicas"] == flat["replicas_needed"] == 3  # 2,190,000 / 730,000
    api = estimate("gpt-4o", autoscale="yes", requests_per_month=1000, peak_to_average=2).to_dict()
    assert api["average_replicas"] is None and api["monthly_cost_usd"] == pytest.approx(1000 * 0.0075)


def test_a_peak_longer_than_the_day_is_refused_with_the_fix():
    with pytest.raises(InvalidValueError, match=r"^autoscale: a peak of 4x the average for 8 hours a day carries "
                                                r"more than the day's traffic\. Lower peak_to_average or "
                                                r"peak_hours_per_day \(their product at most 24\)$"):
        estimate("llama-3-8b", peak_to_average=4, autoscale="yes", **FIXED)
    # without autoscale the hours do not matter
    assert estimate("llama-3-8b", peak_to_average=4, **FIXED).replicas_needed == 12
    r = estimate_many("llama-3-8b", autoscale=["yes", "maybe"], **FIXED)
    assert r["error"][0] is None
    assert r["error"][1] == "autoscale 'maybe' must be yes or no. Write yes or no."
    with pytest.raises(InvalidValueError, match="peak_hours_per_day must be <= 24, got 25"):
        estimate("llama-3-8b", peak_hours_per_day=25, **FIXED)


def test_the_forecast_and_the_sensitivity_use_the_same_replicas():
    # month 1 is the quote's month; traffic x 1.5 in month 2: peak 3,285,000 x 2 / 730,000 = 9,
    # off-peak 1,642,500 / 730,000 -> 3: (8 x 9 + 16 x 3) / 24 = 5 on average
    r = horizon_many("gpt-4o", "llama-3-8b", peak_to_average=2, autoscale="yes", horizon_months=2, growth_per_month=0.5,
                     series=True, **FIXED)
    assert r["error"][0] is None
    assert list(r["replicas"][0, :2]) == pytest.approx([80 / 24, 5.0], rel=1e-12)
    assert r["horizon_cost_usd"][0] == pytest.approx((80 / 24 + 5.0) * DEPLOYMENT, rel=1e-12)
    s = sensitivity_many("llama-3-8b", peak_to_average=2, autoscale="yes", **FIXED)
    assert s["base_usd"][0] == pytest.approx(80 / 24 * DEPLOYMENT, rel=1e-12)
    # requests up 20%: 2,628,000 x 2 / 730,000 = 7.2 -> 8 at the peak, 1,314,000 / 730,000 -> 2 off it
    assert s["requests_up_usd"][0] == pytest.approx((8 * 8 + 16 * 2) / 24 * DEPLOYMENT, rel=1e-12)
    assert not math.isnan(s["gpu_price_down_usd"][0])
    assert np.isfinite(r["npv_usd"][0])


def test_reserved_capacity_is_paid_for_all_day_and_spot_follows_the_day():
    # at a given price of 2 USD per GPU-hour whatever the tier
    rows = dict(model="llama-3-8b", peak_to_average=2, autoscale="yes", **FIXED)
    r = estimate_many(pricing=["reserved-1y", "reserved-3y", "spot", "on-demand"], **rows)
    assert r["error"].tolist() == [None] * 4
    assert r["average_replicas"].tolist() == pytest.approx([6, 6, 80 / 24, 80 / 24], rel=1e-12)
    assert r["monthly_cost_usd"].tolist() == pytest.approx([6 * DEPLOYMENT, 6 * DEPLOYMENT, 80 / 24 * DEPLOYMENT,
                                                            80 / 24 * DEPLOYMENT], rel=1e-12)
    h = horizon_many("gpt-4o", pricing=["reserved-1y", "spot"], horizon_months=1, **rows)
    assert h["horizon_cost_usd"].tolist() == pytest.approx([6 * DEPLOYMENT, 80 / 24 * DEPLOYMENT], rel=1e-12)


def test_breakeven_of_an_autoscaled_fleet_is_where_the_cores_cost_meets_the_api():
    from llmcalc_xl.core.plan import breakeven_many
    from llmcalc_xl.excel.functions import LLM_BREAKEVEN

    options = dict(input_tokens=1000, output_tokens=500, gpus=1, batch=16, peak_to_average=2.5, redundancy=1,
                   autoscale="yes", peak_hours_per_day=6)
    # a cheap API, so that the break-even needs more than the fewest replicas
    volume = float(breakeven_many("gpt-4o-mini", "llama-3.1-8b", "l4", **options)["breakeven_requests_per_month"][0])
    api = (1000 * 0.15 + 500 * 0.60) / 1e6  # gpt-4o-mini's catalog prices, USD per million tokens
    assert api == pytest.approx(float(estimate_many("gpt-4o-mini")["token_cost_usd"][0]))
    own = estimate_many("llama-3.1-8b", "l4", requests_per_month=[volume, volume - 1], **options)
    assert own["average_replicas"][0] < own["replicas_needed"][0]  # the fleet does follow the day there
    assert own["monthly_cost_usd"][0] <= volume * api * (1 + 1e-12)
    assert own["monthly_cost_usd"][1] > (volume - 1) * api
    always_on = float(breakeven_many("gpt-4o-mini", "llama-3.1-8b", "l4", **dict(options, autoscale="no"))
                      ["breakeven_requests_per_month"][0])
    assert volume < always_on
    # the Excel function gives the same figure
    cell = LLM_BREAKEVEN("gpt-4o-mini", "llama-3.1-8b", "l4", 1000, 500, 1, 16, None, None, None, 2.5, 1, "yes", 6)
    assert cell == pytest.approx(volume, rel=1e-12)


def test_own_and_rent_side_by_side_whatever_the_rows_pricing():
    # the README's owned GPU (30,000 USD over 4 years, 700 W x PUE 1.3 x 0.12 USD/kWh: 0.9654 USD an hour)
    # for the peak's 6 replicas all day; rented at the catalog's on-demand H100 price for 80/24 replicas
    owned = dict(capex_usd_per_gpu=30000, power_w_per_gpu=700, pue=1.3, electricity_usd_per_kwh=0.12)
    r = estimate("llama-3-8b", peak_to_average=2, autoscale="yes", **owned, **FIXED).to_dict()
    own_hour = 30000 / (4 * 8760) + 0.7 * 1.3 * 0.12
    assert r["owned_monthly_cost_usd"] == pytest.approx(6 * own_hour * 730, rel=1e-12)
    from llmcalc_xl import load_catalog
    rental = load_catalog().hardware("h100-sxm").price_usd_per_hour
    assert r["rented_monthly_cost_usd"] == pytest.approx(80 / 24 * rental * 730, rel=1e-12)
    assert r["monthly_cost_usd"] == pytest.approx(80 / 24 * DEPLOYMENT, rel=1e-12)  # at the given 2 USD an hour
    api = estimate("gpt-4o", requests_per_month=1000).to_dict()
    assert api["owned_monthly_cost_usd"] is None and api["rented_monthly_cost_usd"] is None
