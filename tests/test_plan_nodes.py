"""``plan`` over several nodes: GPU counts beyond one 8-GPU NVLink domain (16, 32, 64), at the same
layouts, paying the link between nodes.

Expectations come from the catalog's figures by hand (the memory of the weights, the bytes a collective
sends over each link) and from an independent brute force over every GPU count, layout and batch
(``estimate_many`` gives each one's capacity; the replicas and the cost are worked out here), not from
plan's output.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate, estimate_many, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.core import speed
from llmcalc_xl.core.defaults import ALLREDUCE_HOP_LATENCY_S
from llmcalc_xl.core.inputs import NONE
from llmcalc_xl.core.plan import layout_text, layouts_to_try, nodes_of, plan, wider_gpu_choices

GB = 1e9
GIB = 2.0**30
HOURS = 730.0
DAYS = 365.0 / 12.0


def test_the_wider_counts_tried():
    cat = load_catalog()
    # nodes of 8: 2, 4 and 8 of them; an NVL72 rack: the same counts, all within its one domain
    assert wider_gpu_choices(cat.hardware("h100-sxm")) == (16, 32, 64)
    assert wider_gpu_choices(cat.hardware("gb200")) == (16, 32, 64)
    # the catalog does not say where an A100 PCIe box's or an RTX 4090's nodes split: never wider than 8
    assert wider_gpu_choices(cat.hardware("a100-80gb-pcie")) == ()
    assert wider_gpu_choices(cat.hardware("rtx-4090")) == ()
    assert [nodes_of(8, 8), nodes_of(16, 8), nodes_of(64, 8), nodes_of(64, 72), nodes_of(16, None)] == [1, 2, 8, 1, 1]
    # a MoE takes every dp that divides the count, the experts over all GPUs
    assert layouts_to_try(cat.model("deepseek-v3"), 16)[1:] == [(2.0, 16.0), (4.0, 16.0), (8.0, 16.0), (16.0, 16.0)]
    assert layout_text(8, 2, 16, 16, 2) == "tp 8 x dp 2, ep 16 over 2 nodes"
    assert layout_text(16, 1, 1, 16, 2) == "tp 16 over 2 nodes"


def test_an_all_to_all_across_two_nodes_by_hand():
    # DeepSeek-V3's shape (hidden 7168, top-8) at EP 16 over two nodes of 8 H100 (NVLink 450 GB/s one way,
    # one 50 GB/s ConnectX-7 port a GPU), 16 tokens a GPU: a call sends 16 x 8 x 7168 x 2 B = 1,835,008 B;
    # 7/16 of it to the other GPUs of the node over NVLink (1.784 us) and, at the same time, 8/16 of it to
    # the other node over the port (18.35 us): the port sets the time. In one 16-GPU domain 15/16 of it
    # over NVLink (3.823 us). Two calls a layer (dispatch, combine), each with its latency.
    message = 16 * 8 * 7168 * 2
    two_nodes = 2 * (2 * ALLREDUCE_HOP_LATENCY_S + max(7 / 16 * message / (450 * GB), 8 / 16 * message / (50 * GB)))
    assert speed.alltoall_s(16.0, 16.0, 8.0, 7168.0, 450 * GB, 50 * GB, 8.0) == pytest.approx(two_nodes, rel=1e-12)
    assert two_nodes == pytest.approx(2 * (14e-6 + 18.35e-6), rel=1e-3)
    one_domain = 2 * (2 * ALLREDUCE_HOP_LATENCY_S + 15 / 16 * message / (450 * GB))
    assert speed.alltoall_s(16.0, 16.0, 8.0, 7168.0, 450 * GB, 50 * GB, 16.0) == pytest.approx(one_domain, rel=1e-12)


def test_an_all_reduce_across_two_nodes_by_hand():
    # 16 tokens x 8192 x 2 B = 262,144 B over 16 H100 in two nodes: 2 x 7/8 of it over NVLink in each node,
    # then the two nodes swap each GPU's eighth, 2 x 1/2 x 262,144 / 8 B, over its 50 GB/s port; 2 x 4
    # tree levels of latency (ceil(log2 16) = 4)
    message = 16 * 8192 * 2
    by_hand = (2 * 4 * ALLREDUCE_HOP_LATENCY_S + 2 * 7 / 8 * message / (450 * GB)
               + 2 * 1 / 2 * message / 8 / (50 * GB))
    assert speed.allreduce_one_s(16.0, 16.0, 8192.0, 450 * GB, 50 * GB, 8.0) == pytest.approx(by_hand, rel=1e-12)


def test_a_decode_step_across_two_nodes_pays_the_port(tmp_path):
    # DeepSeek-V3 in fp8 as dp 16 attention ranks (tp 1) with its experts over 16 H100 (ep 16), one request:
    # no attention all-reduce (tp 1); each of the 61 layers dispatches and combines by all-to-all (the
    # core counts every layer of a MoE as a MoE layer). A lone token is on one rank: on average 1/16 of a
    # token a GPU, 1/16 x 8 x 7168 x 2 B a call. Two nodes against one 16-GPU domain (an overlay): the
    # step differs by the wire time alone, at vLLM's share of either link.
    overlay = tmp_path / "wide.toml"
    overlay.write_text('[[hardware]]\nid = "h100-sxm"\nnvlink_domain_gpus = 16\nsource = "t"\nas_of = "2026-11-30"\n')
    args = dict(gpus=16, dp=16, ep=16, batch=1, input_tokens=1000, output_tokens=100, precision="fp8")
    two_nodes = estimate("deepseek-v3", "h100-sxm", **args)
    one_domain = estimate("deepseek-v3", "h100-sxm", catalog=[overlay], **args)
    share = load_catalog().engine("vllm").allreduce_bandwidth_share
    message = 1 / 16 * 8 * 7168 * 2
    wire_two = max(7 / 16 * message / (450 * GB * share), 8 / 16 * message / (50 * GB * share))
    wire_one = 15 / 16 * message / (450 * GB * share)
    assert two_nodes.tpot_s - one_domain.tpot_s == pytest.approx(61 * 2 * (wire_two - wire_one), rel=1e-6)


def test_deepseek_in_fp8_on_h100_takes_two_nodes():
    # DeepSeek-V3 in fp8: 671e9 weights x 1 B = 624.9 GiB. Eight H100 hold 8 x 79.647 = 637.2 GiB, of which
    # vLLM takes 0.92 (gpu_memory_utilization): 586.2 GiB, less than the weights alone, so no single node
    # serves it. Sixteen take 1,172.4 GiB: the fewest GPUs that fit are two nodes of 8.
    weights_gib = 671e9 / GIB
    assert weights_gib > 8 * 79.647 * 0.92
    assert estimate("deepseek-v3", "h100-sxm", gpus=8, precision="fp8").fits is False
    p = plan(["deepseek-v3"], requests_per_day=1_000, hardware=["h100-sxm"], api_models=["gpt-4o"],
             precision="fp8", peak_to_average=1, redundancy=0)
    assert p.rejected == {}
    best = p.self_hosted[0]
    price = load_catalog().hardware("h100-sxm").price_usd_per_hour
    assert (best["gpus"], best["nodes"], best["replicas"]) == (16, 2, 1)
    assert best["monthly_usd"] == pytest.approx(16 * price * HOURS)
    assert best["layout"].endswith(" over 2 nodes") and best["tp"] * best["dp"] == 16
    # the layout chosen is one the core prices alike
    again = estimate("deepseek-v3", "h100-sxm", gpus=16, batch=best["batch"], tp=best["tp"], dp=best["dp"],
                     ep=best["ep"], precision="fp8")
    assert again.fits and again.tpot_s == pytest.approx(best["tpot_s"])


def test_a_model_too_large_even_for_the_widest_is_rejected_with_the_count():
    # Llama 3.1 405B in fp16 (810 GB) on the RTX 4090 (24 GB): the catalog states no NVLink domain, so
    # plan stays within 8 GPUs (192 GB), and says so
    p = plan(["llama-3.1-405b"], requests_per_day=1_000, hardware=["rtx-4090"], api_models=["gpt-4o"],
             precision="fp16")
    assert p.rejected == {"rtx-4090": "the model does not fit on 8 GPUs"}


def best_capacity(model, hardware, gpus, dp, ep, **shape):
    """The most requests a month one replica of this layout serves, over every batch that fits (0: none)."""
    layout = {} if dp is None else dict(dp=dp, ep=ep)
    top = estimate_many(model, hardware, gpus=gpus, batch="max", **layout, **shape)
    if top["error"][0] is not None or not top["batch"][0] >= 1:
        return 0.0
    e = estimate_many(model, hardware, gpus=gpus, batch=np.arange(1, int(top["batch"][0]) + 1), **layout, **shape)
    return float(np.max(np.where(np.equal(e["error"], NONE) & (e["fits"] == 1), e["capacity_requests_per_month"], 0)))


@pytest.mark.parametrize("requests_per_day", [20_000, 2_000_000])
def test_the_search_over_nodes_matches_a_brute_force(requests_per_day):
    # every GPU count of one node and of several, every layout, every batch (at 2M a day the wider counts
    # are searched: 16 GPUs need 5 replicas, more than one of 32 or 64 costs): with one replica's cost F =
    # gpus x price x 730 h and no spares, a layout costs ceil(load / its best capacity) x F
    shape = dict(precision="fp8", input_tokens=2000, output_tokens=500)
    monthly = requests_per_day * DAYS
    price = load_catalog().hardware("h100-sxm").price_usd_per_hour
    model = load_catalog().model("deepseek-v3")
    cheapest = math.inf
    for gpus in (1, 2, 4, 8, 16, 32, 64):
        for dp, ep in layouts_to_try(model, gpus):
            layout = (None, None) if math.isnan(dp) else (dp, ep)
            capacity = best_capacity("deepseek-v3", "h100-sxm", gpus, *layout, **shape)
            if capacity > 0:
                cheapest = min(cheapest, math.ceil(monthly / capacity) * gpus * price * HOURS)
    p = plan(["deepseek-v3"], requests_per_day=requests_per_day, hardware=["h100-sxm"], api_models=["gpt-4o"],
             peak_to_average=1, redundancy=0, **shape)
    assert p.self_hosted[0]["monthly_usd"] == pytest.approx(cheapest, rel=1e-9)


def test_the_command_line_shows_the_nodes():
    args = ["plan", "--model", "deepseek-v3", "--requests-per-day", "1000", "--hardware", "h100-sxm",
            "--precision", "fp8", "--api-model", "gpt-4o"]
    out = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    best = out["self_hosted"][0]
    assert (best["gpus"], best["nodes"]) == (16, 2) and best["layout"].endswith("over 2 nodes")
    text = CliRunner().invoke(main, args).output
    assert f"Cheapest self-hosted: deepseek-v3 on h100-sxm x 16 ({best['layout']}; " in text


def test_a_domain_wider_than_64_is_tried_up_to_its_size(tmp_path):
    # a user's file may state a larger NVLink domain (NVL576 racks hold 576 GPUs): the counts run to the
    # largest power of two within it, and never past 512
    for domain, counts in ((144, (16, 32, 64, 128)), (576, (16, 32, 64, 128, 256, 512)),
                           (100_000, (16, 32, 64, 128, 256, 512))):
        own = tmp_path / f"d{domain}.toml"
        own.write_text(f'[[hardware]]\nid = "gb200"\nnvlink_domain_gpus = {domain}\nsource = "t"\nas_of = "2026-11-30"\n')
        assert wider_gpu_choices(load_catalog([str(own)]).hardware("gb200")) == counts


def test_a_model_too_large_for_64_gpus_is_rejected_with_that_count(tmp_path):
    # a dense model of 6,000 B weights in fp8: 6,000e9 B = 5,588 GiB, more than 64 H100 hold (64 x 79.647 =
    # 5,097 GiB): every count up to 64 was tried, and the reason says so
    own = tmp_path / "huge.toml"
    own.write_text('[[models]]\nid = "huge-dense"\nname = "Huge dense"\nparams_b = 6000.0\nactive_params_b = 6000.0\nlayers = 200\n'
                   'hidden_size = 32768\nintermediate_size = 131072\nheads = 256\nkv_heads = 16\nhead_dim = 128\n'
                   'vocab_size = 100000\ncontext_length = 100000\nsource = "test fixture"\nas_of = "2026-01-01"\n')
    assert 6000e9 / GIB > 64 * 79.647
    p = plan(["huge-dense"], requests_per_day=1_000, hardware=["h100-sxm"], api_models=["gpt-4o"], precision="fp8",
             catalog=[str(own)])
    assert p.self_hosted == [] and p.rejected == {"h100-sxm": "the model does not fit on 64 GPUs"}


@pytest.mark.parametrize("models, hardware, load", [
    # the wider counts searched (16 GPUs need several replicas) on two devices
    (["deepseek-v3"], ["h100-sxm", "h200"], dict(requests_per_day=2_000_000, input_tokens=8000, output_tokens=1000)),
    # peak, spares and a target, a dense model on two devices
    (["llama-3.1-8b"], ["l4", "a100-80gb"], dict(requests_per_s=50, peak_to_average=3, redundancy=1, max_tpot_s=0.05)),
    # an autoscaled fleet of a small mixture of experts
    (["qwen3-30b-a3b"], ["h100-sxm"], dict(requests_per_day=1_000_000, autoscale="yes", peak_to_average=2,
                                           peak_hours_per_day=6)),
])
def test_the_lower_bound_of_a_configurations_cost_changes_no_answer(models, hardware, load, monkeypatch):
    # the search closes configurations whose cost, bounded below from their batches at powers of two, is
    # dearer than an answer found (plan._bounded): it must give what the search over every batch gives
    import llmcalc_xl.core.plan as plan_module

    def answer(p):
        return json.dumps([p.self_hosted, p.rejected, p.apis], sort_keys=True, default=str)

    bounded = plan(models, hardware=hardware, api_models=["gpt-4o"], **load)
    monkeypatch.setattr(plan_module, "_bounded", lambda open_, *args, **kwargs: (open_, 0))
    every = plan(models, hardware=hardware, api_models=["gpt-4o"], **load)
    assert answer(bounded) == answer(every)
    if load.get("requests_per_day") == 2_000_000:
        assert bounded.configurations_tried < every.configurations_tried / 2
