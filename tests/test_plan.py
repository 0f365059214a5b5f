"""``plan``'s search over every whole batch, its fleet sized for the peak plus spares, and the
fleet's break-even.

Expected values come from an independent brute force: every batch from 1 to the largest that fits
(``estimate_many`` gives each one's capacity and latency), the replicas worked out here from the
issue's formula (ceil(requests x peak_to_average / capacity) + redundancy, at least one for the
peak) and the cost from the catalog's price (replicas x GPUs x USD/h x 730 h); not from plan's
output. The issue (#12) quoted $10,191 a month where $5,095 served the same load: Llama 3.1 70B
on H100 SXM at 100,000 requests a day, when RunPod's H100 price was 3.49 USD an hour (2 GPUs x
3.49 x 730 = 5,095.40; the power-of-two grid took 2 replicas of that, 10,190.80).
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate_many, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.core.inputs import NONE
from llmcalc_xl.core.plan import breakeven_many, fleet_breakeven_requests_per_month, plan

HOURS = 730.0
DAYS = 365.0 / 12.0


def _average_replicas(monthly, capacity, peak, spares, hours):
    """The README's autoscaled day, written out: the peak's replicas for ``hours``, for the other
    hours those of (24 - peak x hours) / (24 - hours) x the average load (at least one), plus spares."""
    off = (24 - peak * hours) / (24 - hours)
    at_peak = np.maximum(np.ceil(monthly * peak / capacity), 1) + spares
    off_peak = np.maximum(np.ceil(monthly * off / capacity), 1) + spares
    return (hours * at_peak + (24 - hours) * off_peak) / 24


def brute_force(model, hardware, monthly, *, peak=1.0, spares=0, max_latency_s=None, max_tpot_s=None,
                batches=None, catalog=None, autoscale_hours=None):
    """The cheapest (USD a month, gpus, batch, latency) of every GPU count and batch, and the cheapest
    of each batch list given (the old grid), by the issue's formula."""
    cat = catalog if catalog is not None else load_catalog()
    price = cat.hardware(hardware).price_usd_per_hour
    first = estimate_many(model, hardware, gpus=[1, 2, 4, 8], batch=1, catalog=cat)
    rows = [(g, b) for g, top in zip((1, 2, 4, 8), np.nan_to_num(first["max_batch"]).astype(int))
            for b in range(1, top + 1) if batches is None or b in batches]
    g, b = (np.array(c) for c in zip(*rows))
    e = estimate_many(model, hardware, gpus=g, batch=b, catalog=cat)
    ok = np.equal(e["error"], NONE) & (e["fits"] == 1)
    if max_latency_s is not None:
        ok &= e["latency_s"] <= max_latency_s
    if max_tpot_s is not None:
        ok &= e["tpot_s"] <= max_tpot_s
    replicas = np.maximum(np.ceil(monthly * peak / e["capacity_requests_per_month"]), 1) + spares
    paid = replicas if autoscale_hours is None else _average_replicas(
        monthly, e["capacity_requests_per_month"], peak, spares, autoscale_hours)
    usd = np.where(ok, paid * g * price * HOURS, np.inf)
    best = usd.min()
    tied = np.flatnonzero(np.isclose(usd, best, rtol=0, atol=0.005))
    i = tied[np.argmin(e["latency_s"][tied])]
    return best, int(g[i]), int(b[i]), int(replicas[i])


def test_the_search_finds_the_batch_between_powers_of_two():
    # a load where the power-of-two grid needs a dearer fleet than some batch between (found by the
    # brute force, so the case follows the speed physics as it changes)
    cases = [(m, h, d) for m, h in (("llama-3.1-70b", "h100-sxm"), ("llama-3.1-8b", "l4"))
             for d in (20_000, 35_000, 50_000, 100_000, 200_000, 500_000)]
    for model, hardware, per_day in cases:
        monthly = per_day * DAYS
        usd, gpus, batch, replicas = brute_force(model, hardware, monthly)
        grid_usd, *_ = brute_force(model, hardware, monthly, batches={1, 2, 4, 8, 16, 32, 64, 128, 256})
        if grid_usd > usd * 1.01:
            break
    else:
        pytest.fail("no case in the list where the power-of-two grid misses a cheaper batch")
    p = plan([model], requests_per_day=per_day, hardware=[hardware], api_models=["gpt-4o"])
    best = p.self_hosted[0]
    assert best["monthly_usd"] == pytest.approx(usd, abs=0.01)
    assert (best["gpus"], best["batch"], best["replicas"]) == (gpus, batch, replicas)
    assert batch & (batch - 1) != 0  # not a power of two


def test_the_issues_case_at_the_old_h100_price(tmp_path):
    # the issue's case (Llama 3.1 70B on H100 SXM, 100,000 requests a day, at RunPod's 3.49 USD an
    # hour then): plan gives the brute force's cheapest fleet, a whole number of 3.49 x 730 GPU-months
    old = tmp_path / "old-price.toml"
    old.write_text('[[hardware]]\nid = "h100-sxm"\n\n[[hardware.prices]]\nprovider = "RunPod"\ntier = "on-demand"\n'
                   'usd_per_gpu_hour = 3.49\nsource = "RunPod Secure Cloud, as the issue priced it"\n'
                   'as_of = "2026-09-25"\n')
    cat = load_catalog([str(old)])
    p = plan(["llama-3.1-70b"], requests_per_day=100_000, hardware=["h100-sxm"], api_models=["gpt-4o"],
             catalog=[str(old)])
    best = p.self_hosted[0]
    usd, gpus, batch, replicas = brute_force("llama-3.1-70b", "h100-sxm", 100_000 * DAYS, catalog=cat)
    assert best["monthly_usd"] == pytest.approx(usd, abs=0.01)
    assert best["monthly_usd"] == pytest.approx(gpus * replicas * 3.49 * 730)
    assert (best["gpus"], best["replicas"]) == (gpus, replicas)


def test_past_the_first_round_of_batches_with_peak_and_spares():
    # the first of these loads (requests a second, a peak of 3x and one spare) whose cheapest batch
    # on an MI300X is past 256, by the brute force, so the case follows the speed physics as it
    # changes (100 a second did until TTFT's waits under load lengthened each request)
    found = [(rps, brute_force("llama-3.1-8b", "mi300x", rps * 3600 * HOURS, peak=3, spares=1))
             for rps in (100, 150, 200, 300)]
    rps, (usd, gpus, batch, replicas) = next((r, b) for r, b in found if b[2] > 256)
    p = plan(["llama-3.1-8b"], requests_per_s=rps, hardware=["mi300x"], api_models=["gpt-4o"],
             peak_to_average=3, redundancy=1)
    best = p.self_hosted[0]
    assert best["monthly_usd"] == pytest.approx(usd, abs=0.01)
    assert (best["gpus"], best["batch"], best["replicas"]) == (gpus, batch, replicas)
    assert batch > 256 and best["spare_replicas"] == 1
    assert (p.peak_to_average, p.redundancy) == (3, 1)
    # the tiers comparison prices the same fleet, spares included
    assert best["monthly_usd_by_pricing"]["on-demand"] == pytest.approx(usd)


def test_an_autoscaled_fleet_is_the_cheapest_average_of_every_batch():
    # 40 requests a second at a peak of 3 for 6 hours, N+1: the brute force prices every batch's
    # autoscaled fleet by the README's formula
    monthly = 40 * 3600 * HOURS
    p = plan(["llama-3.1-8b"], requests_per_s=40, hardware=["l4"], api_models=["gpt-4o"], peak_to_average=3,
             redundancy=1, autoscale="Yes", peak_hours_per_day=6)
    best = p.self_hosted[0]
    usd, gpus, batch, replicas = brute_force("llama-3.1-8b", "l4", monthly, peak=3, spares=1, autoscale_hours=6)
    assert best["monthly_usd"] == pytest.approx(usd, abs=0.01)
    assert (best["gpus"], best["batch"], best["replicas"]) == (gpus, batch, replicas)
    assert best["average_replicas"] < best["replicas"] and p.autoscale
    always_on, *_ = brute_force("llama-3.1-8b", "l4", monthly, peak=3, spares=1)
    assert usd < always_on
    # the API's break-even: where the core's autoscaled fleet of the chosen configuration first costs
    # what the API does (checked on the core, a request either side)
    volume = p.apis[0]["breakeven_requests_per_month"]
    api = float(estimate_many("gpt-4o")["token_cost_usd"][0])
    own = estimate_many("llama-3.1-8b", "l4", gpus=gpus, batch=batch, peak_to_average=3, redundancy=1, autoscale="yes",
                        peak_hours_per_day=6, requests_per_month=[volume, volume - 1])
    assert own["monthly_cost_usd"][0] <= volume * api * (1 + 1e-12)
    assert own["monthly_cost_usd"][1] > (volume - 1) * api


@pytest.mark.parametrize("f, a, c, p, k, h", [
    (1000.0, 0.01, 200_000, 2.0, 0, 8.0),
    (1000.0, 0.01, 200_000, 2.0, 2, 8.0),
    (2733.12, 0.0075, 400_000, 3.0, 1, 6.0),
    (1000.0, 0.004, 200_000, 1.5, 0, 8.0),   # the API is cheaper than a full replica: never
])
def test_autoscaled_fleet_breakeven_by_walking_the_volumes(f, a, c, p, k, h):
    got = float(fleet_breakeven_requests_per_month(f, a, c, p, k, True, h))
    if a * c <= f:
        assert math.isinf(got)
        return
    # every whole request count up to 15 replicas' worth: the first where the fleet costs no more
    volume = np.arange(1.0, 15 * c)
    pays = volume * a >= _average_replicas(volume, c, p, k, h) * f
    assert pays.any()
    first = volume[np.argmax(pays)]
    assert got <= first and got > first - 1
    assert got * a >= _average_replicas(got, c, p, k, h) * f * (1 - 1e-12)


def test_cli_plan_autoscales():
    r = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-s", "40", "--hardware", "l4",
                                  "--api-model", "gpt-4o", "--peak-to-average", "3", "--autoscale", "yes",
                                  "--peak-hours-per-day", "6", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["autoscale"] is True and out["peak_hours_per_day"] == 6
    best = out["self_hosted"][0]
    assert best["monthly_usd"] == pytest.approx(best["average_replicas"] * best["replica_usd_per_month"])
    bad = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-day", "1000",
                                    "--peak-to-average", "4", "--autoscale", "yes"])
    assert bad.exit_code == 2 and bad.output.strip() == (
        "Error: autoscale: a peak of 4x the average for 8 hours a day carries more than the day's traffic. Lower "
        "peak_to_average or peak_hours_per_day (their product at most 24)")


@pytest.mark.parametrize("targets", [dict(max_latency_s=12.0), dict(max_tpot_s=0.02)])
def test_targets_bound_the_search(targets):
    monthly = 500_000 * DAYS
    p = plan(["llama-3.1-8b"], requests_per_day=500_000, hardware=["a100-80gb"], api_models=["gpt-4o"], **targets)
    best = p.self_hosted[0]
    usd, gpus, batch, replicas = brute_force("llama-3.1-8b", "a100-80gb", monthly, **targets)
    assert best["monthly_usd"] == pytest.approx(usd, abs=0.01)
    assert (best["gpus"], best["batch"]) == (gpus, batch)
    for key, limit in targets.items():
        assert best[key.removeprefix("max_")] <= limit


def test_a_target_nothing_meets_is_said():
    p = plan(["llama-3.1-70b"], requests_per_day=1000, hardware=["h100-sxm"], api_models=["gpt-4o"],
             max_tpot_s=1e-6)
    assert p.self_hosted == [] and p.rejected == {"h100-sxm": "no configuration meets the latency targets"}


def _first_volume(f, a, c, p, k, most=100_000):
    """The break-even by walking the replicas the peak needs, n = 1, 2, ...: the first n whose
    volume (n + k) F / a still needs no more than n replicas at the peak."""
    for n in range(1, most):
        volume = (n + k) * f / a
        if volume * p <= n * c * (1 + 1e-12):
            return volume
    return math.inf


@pytest.mark.parametrize("f, a, c, p, k, worked", [
    (1000.0, 0.01, 200_000, 1.0, 0, 100_000),   # one replica: F / a
    (1000.0, 0.01, 200_000, 1.5, 1, 400_000),   # n = ceil(1 x 1000 x 1.5 / (2000 - 1500)) = 3: 4 x 1000 / 0.01
    (1000.0, 0.01, 200_000, 2.0, 1, math.inf),  # a replica at the peak earns exactly its cost: spares never pay
    (1000.0, 0.01, 200_000, 2.0, 0, 100_000),   # ... but with no spares one replica breaks even, full at the peak
    (1000.0, 0.004, 200_000, 1.0, 0, math.inf),  # the API is cheaper even with the replica full
    (2733.12, 0.0075, 1_600_000, 2.0, 2, None),
    (5825.4, 0.0075, 3_100_000, 1.3, 3, None),
])
def test_fleet_breakeven(f, a, c, p, k, worked):
    want = _first_volume(f, a, c, p, k)
    if worked is not None:
        assert want == pytest.approx(worked)
    got = float(fleet_breakeven_requests_per_month(f, a, c, p, k))
    assert got == pytest.approx(want, rel=1e-9) if math.isfinite(want) else math.isinf(got)


def test_breakeven_many_is_where_the_cores_fleet_first_costs_what_the_api_does():
    options = dict(input_tokens=1000, output_tokens=500, gpus=2, batch=32, peak_to_average=2.5, redundancy=1)
    volume = float(breakeven_many("gpt-4o", "llama-3.1-8b", "l4", **options)["breakeven_requests_per_month"][0])
    api = float(estimate_many("gpt-4o", input_tokens=1000, output_tokens=500)["token_cost_usd"][0])
    own = estimate_many("llama-3.1-8b", "l4", requests_per_month=[volume, volume * 0.999], **options)
    assert own["monthly_cost_usd"][0] == pytest.approx(volume * api)
    assert own["monthly_cost_usd"][1] > volume * 0.999 * api
    assert own["replicas_needed"][0] == 2  # one for the peak, one spare


def test_cli_plan_takes_peak_and_spares():
    r = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-day", "100000", "--hardware", "l4",
                                  "--api-model", "gpt-4o", "--peak-to-average", "2", "--redundancy", "1",
                                  "--max-tpot-s", "0.5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["peak_to_average"], out["redundancy"]) == (2, 1)
    best = out["self_hosted"][0]
    replicas = math.ceil(100_000 * DAYS * 2 / best["capacity_requests_per_month"]) + 1
    assert best["replicas"] == replicas and best["monthly_usd"] == pytest.approx(replicas * best["replica_usd_per_month"])
    text = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-day", "100000", "--hardware",
                                     "l4", "--api-model", "gpt-4o", "--peak-to-average", "2", "--redundancy", "1"])
    assert "replicas sized for a peak of 2x the average, plus 1 spare" in text.output


@pytest.mark.parametrize("args, message", [
    (["--peak-to-average", "0.5"], "Error: peak_to_average must be >= 1, got 0.5"),
    (["--redundancy", "1.5"], "Error: redundancy must be a whole number, got 1.5"),
    (["--redundancy", "-1"], "Error: redundancy must be >= 0, got -1"),
    (["--max-tpot-s", "0"], "Error: max_tpot_s must be > 0, got 0"),
])
def test_cli_plan_refuses_bad_fleet_options(args, message):
    r = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-day", "1000", *args])
    assert r.exit_code == 2 and r.output.strip() == message


@pytest.mark.parametrize("model, hardware, engine, tokens", [
    ("llama-3.1-8b", "h100-sxm", None, (1000, 500)),
    ("llama-3.2-1b", "l4", "tensorrt-llm", (200, 100)),
    ("qwen3-30b-a3b", "a100-80gb", None, (8000, 200)),
    ("llama-3.1-70b", "mi300x", "transformers", (1000, 500)),
])
def test_what_the_search_assumes_of_the_core(model, hardware, engine, tokens):
    # plan closes a configuration early on two properties of the core's outputs (README, "How plan
    # searches"): a request never gets faster as the batch grows, and capacity per sequence never rises
    # with it. Should the speed physics change them, this fails before a plan misses a cheaper batch.
    shape = dict(engine=engine, input_tokens=tokens[0], output_tokens=tokens[1])
    e = estimate_many(model, hardware, gpus=[1, 8], batch=1, **shape)
    for gpus, top in zip((1, 8), np.nan_to_num(e["max_batch"]).astype(int)):
        batch = np.arange(1, min(top, 3000) + 1)
        out = estimate_many(model, hardware, gpus=gpus, batch=batch, requests_per_month=1e6, **shape)
        assert np.all(out["fits"] == 1)
        for key in ("ttft_s", "tpot_s", "latency_s"):
            assert np.all(np.diff(out[key]) >= -1e-12 * out[key][1:]), key
        per_sequence = out["capacity_requests_per_month"] / batch
        assert np.all(np.diff(per_sequence) <= 1e-12 * per_sequence[1:])
