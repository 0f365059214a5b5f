"""``plan`` over parallel layouts: tp = gpus for every model, and for a mixture-of-experts model also dp
attention ranks with the experts spread over all GPUs (ep = gpus).

Expected values come from an independent brute force over every layout and batch (``estimate_many``
gives each one's capacity and latency; the replicas and the cost are worked out here by the issue's
formula) and from the model's shape by hand, not from plan's output.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate, estimate_many, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.core import plan as plan_module
from llmcalc_xl.core.inputs import NONE
from llmcalc_xl.core.plan import layout_text, layouts_to_try, plan

HOURS = 730.0
DAYS = 365.0 / 12.0

#: The layouts of 8 GPUs a MoE is tried at, as (dp, ep) options: tp 8, then tp 4 x dp 2, tp 2 x dp 4, dp 8
EIGHT = [(None, None), (2, 8), (4, 8), (8, 8)]


def best_capacity(model, hardware, gpus, dp, ep, **shape):
    """The most requests a month one replica of this layout serves, over every batch that fits."""
    layout = {} if dp is None else dict(dp=dp, ep=ep)
    top = estimate_many(model, hardware, gpus=gpus, batch="max", **layout, **shape)
    if top["error"][0] is not None or not top["batch"][0] >= 1:
        return 0.0
    e = estimate_many(model, hardware, gpus=gpus, batch=np.arange(1, int(top["batch"][0]) + 1), **layout, **shape)
    return float(np.max(np.where(np.equal(e["error"], NONE) & (e["fits"] == 1), e["capacity_requests_per_month"], 0)))


def test_the_layouts_tried():
    cat = load_catalog()
    dense, moe = cat.model("llama-3.1-70b"), cat.model("deepseek-v3")
    for gpus in (1, 2, 4, 8):
        assert len(layouts_to_try(dense, gpus)) == 1 and all(map(math.isnan, layouts_to_try(dense, gpus)[0]))
    # every dp > 1 that divides the GPUs, each with the experts over all of them
    assert [(dp, ep) for dp, ep in layouts_to_try(moe, 8)[1:]] == [(2.0, 8.0), (4.0, 8.0), (8.0, 8.0)]
    assert layouts_to_try(moe, 4)[1:] == [(2.0, 4.0), (4.0, 4.0)]
    assert len(layouts_to_try(moe, 1)) == 1
    assert [layout_text(8, 1, 1, 8), layout_text(4, 2, 8, 8), layout_text(1, 8, 8, 8), layout_text(None, None, None, 2)] \
        == ["tp 8", "tp 4 x dp 2, ep 8", "dp 8, ep 8", "layers over 2 GPUs"]


def test_dp_attention_wins_where_the_kv_cache_bounds_the_batch():
    # DeepSeek-V3 on 8 H200 (vLLM), 8,000 tokens in and 1,000 out. Its MLA cache is one latent of
    # 512 + 64 values a token a layer, in 16-bit (the engine keeps fp16 for the model's own FP8
    # release), and under one rank of tp 8 every GPU holds the latent of every sequence: 8 copies.
    # With two ranks of tp 4 (dp 2) a GPU holds the latents of its rank's half of the sequences only,
    # so the same memory holds about twice the batch; the attention's all-reduce spans 4 GPUs with
    # half the tokens, and the MoE layers swap tokens by an all-to-all. Each rank holds its own copy of
    # the attention and dense weights (one more copy here), which the KV saving far outweighs.
    m = load_catalog().model("deepseek-v3")
    shape = dict(input_tokens=8000, output_tokens=1000)
    block_tokens = math.ceil(9000 / 16) * 16  # vLLM pages of 16 tokens
    per_sequence_b = block_tokens * (m.kv_lora_rank + m.qk_rope_head_dim) * m.layers * 2
    tp8 = estimate("deepseek-v3", "h200", gpus=8, batch=16, **shape)
    dp2 = estimate("deepseek-v3", "h200", gpus=8, batch=16, dp=2, ep=8, **shape)
    assert tp8.kv_cache_gib * 2**30 == pytest.approx(8 * 16 * per_sequence_b, rel=1e-12)
    assert dp2.kv_cache_gib * 2**30 == pytest.approx(8 * 8 * per_sequence_b, rel=1e-12)
    assert dp2.max_batch > 1.5 * tp8.max_batch
    # a load between what one replica serves at tp 8 (at its best batch) and what the best layout serves:
    # tp alone needs two replicas of 8 GPUs, the dp layout one
    tp_only = best_capacity("deepseek-v3", "h200", 8, None, None, **shape)
    by_layout = {lay: best_capacity("deepseek-v3", "h200", 8, *lay, **shape) for lay in EIGHT}
    best_layout = max(by_layout, key=lambda k: by_layout[k])
    assert best_layout[0] is not None and by_layout[best_layout] > 1.1 * tp_only
    monthly = (tp_only + by_layout[best_layout]) / 2
    p = plan(["deepseek-v3"], requests_per_day=monthly / DAYS, hardware=["h200"], api_models=["gpt-4o"],
             peak_to_average=1, redundancy=0, **shape)
    best = p.self_hosted[0]
    price = load_catalog().hardware("h200").price_usd_per_hour
    assert best["monthly_usd"] == pytest.approx(8 * price * HOURS)  # one replica of 8 GPUs
    assert (best["gpus"], best["replicas"]) == (8, 1)
    assert best["dp"] > 1 and best["tp"] * best["dp"] == 8 and best["ep"] == 8
    assert by_layout[(best["dp"], best["ep"])] >= monthly  # the brute force's capacity of that layout
    # the layout chosen is the one estimate prices alike
    again = estimate("deepseek-v3", "h200", gpus=8, batch=best["batch"], tp=best["tp"], dp=best["dp"],
                     ep=best["ep"], requests_per_month=monthly, peak_to_average=1, redundancy=0, **shape)
    assert again.monthly_cost_usd == pytest.approx(best["monthly_usd"])
    assert again.capacity_requests_per_month == pytest.approx(best["capacity_requests_per_month"])


def _spy(monkeypatch):
    """Every estimate_many call plan makes: (its dp option, its result)."""
    calls = []
    real = plan_module.estimate_many

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((kwargs.get("dp"), kwargs.get("ep"), kwargs.get("batch"), out))
        return out
    monkeypatch.setattr(plan_module, "estimate_many", spy)
    return calls


def test_a_dense_model_is_tried_at_tp_alone(monkeypatch):
    calls = _spy(monkeypatch)
    p = plan(["llama-3.1-70b"], requests_per_day=200_000, hardware=["h100-sxm", "a100-80gb"], api_models=["gpt-4o"])
    assert calls and all(dp is None and ep is None for dp, ep, _, _ in calls)
    for row in p.self_hosted:
        assert (row["tp"], row["dp"], row["ep"], row["layout"]) == (row["gpus"], 1, 1, f"tp {row['gpus']}")


def test_a_layout_the_model_cannot_take_is_never_searched_nor_shown(monkeypatch, tmp_path):
    # a MoE of 6 experts: ep 2 divides them, ep 4 and ep 8 do not (the core refuses those layouts)
    own = tmp_path / "six.toml"
    own.write_text('[[models]]\nid = "six-experts"\nname = "Six experts"\nparams_b = 10.0\nactive_params_b = 4.0\n'
                   'layers = 10\nhidden_size = 1000\nintermediate_size = 1000\nheads = 8\nkv_heads = 8\n'
                   'head_dim = 125\nvocab_size = 1000\nexperts = 6\nexperts_per_token = 2\ncontext_length = 100000\n'
                   'source = "test fixture"\nas_of = "2026-01-01"\n')
    calls = _spy(monkeypatch)
    p = plan(["six-experts"], requests_per_day=2_000_000, hardware=["l4", "a10g"], api_models=["gpt-4o"],
             catalog=[str(own)])
    searched = [(dp, ep, out) for dp, ep, batch, out in calls if dp is not None and not isinstance(batch, str)]
    layouts = {(d, e) for dp, ep, _ in searched for d, e in zip(dp, ep) if not math.isnan(d)}
    assert layouts == {(2.0, 2.0)}  # batches of every other layout are never estimated
    assert all(np.equal(out["error"], NONE).all() for _, _, out in searched)
    assert p.self_hosted
    for row in p.self_hosted:
        assert row["ep"] in (1, 2)
        if row["dp"] > 1:
            layout = dict(tp=row["tp"], dp=row["dp"], ep=row["ep"])
            assert estimate("six-experts", row["hardware"], gpus=row["gpus"], batch=row["batch"], **layout,
                            catalog=[str(own)]).fits
    # an engine that splits layers takes no layout: every MoE row is its default one
    q = plan(["mixtral-8x7b"], requests_per_day=10_000, hardware=["a100-80gb"], api_models=["gpt-4o"],
             engine="llama.cpp")
    assert [(r["tp"], r["dp"], r["ep"]) for r in q.self_hosted] == [(None, None, None)]


def test_the_command_line_shows_the_layout():
    args = ["plan", "--model", "deepseek-v3", "--requests-per-day", "100000", "--hardware", "h200",
            "--input-tokens", "8000", "--output-tokens", "1000", "--api-model", "gpt-4o"]
    out = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    best = out["self_hosted"][0]
    assert {"tp", "dp", "ep", "layout"} <= set(best) and best["tp"] * best["dp"] == best["gpus"]
    text = CliRunner().invoke(main, args).output
    assert "layout" in text.splitlines()[3]
    assert f"Cheapest self-hosted: deepseek-v3 on h200 x {best['gpus']} ({best['layout']}; " in text


def test_percentile_targets_and_the_peak_view_keep_the_layout():
    # the rate view re-estimates the chosen configuration: at its own layout (a dp layout's p90 is its own)
    shape = dict(input_tokens=8000, output_tokens=1000)
    p = plan(["deepseek-v3"], requests_per_s=1.0, hardware=["h200"], api_models=["gpt-4o"], max_ttft_p90_s=30,
             **shape)
    best = p.self_hosted[0]
    layout = {} if best["dp"] == 1 else dict(dp=best["dp"], ep=best["ep"])
    serving = best["replicas"] - best["spare_replicas"]
    e = estimate("deepseek-v3", "h200", gpus=best["gpus"], batch=best["batch"], utilization=best["utilization"],
                 requests_per_s=1.0 * p.peak_to_average / serving, **layout, **shape)
    assert best["ttft_at_rate_p90_s"] == pytest.approx(e.ttft_at_rate_p90_s) and best["ttft_at_rate_p90_s"] <= 30
