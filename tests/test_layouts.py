"""Parallel layouts: tp x dp attention ranks, ep expert groups, and deployments wider than one NVLink
domain. Expectations by hand from the catalog's model shapes and the formulas' own sources."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llmcalc_xl import InvalidValueError, estimate, load_catalog
from llmcalc_xl.cli.main import main as cli
from llmcalc_xl.core import speed
from llmcalc_xl.core.defaults import ALLREDUCE_HOP_LATENCY_S
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import (core_of, load_values, mismatches, needs_gnumeric, needs_libreoffice, recalculate,
                           recalculate_gnumeric, scenario_outputs)

GB = 1e9


def test_an_all_to_all_by_hand():
    # DeepSeek-V3's shape (hidden 7168, top-8) at EP 8, 16 tokens a GPU, NVLink 4 (450 GB/s one way):
    # a call sends 16 x 8 x 7168 x 2 B = 1,835,008 B, 7/8 of it to other GPUs: 3.568 us at 450 GB/s,
    # plus the call's latency (2 x the all-reduce's 7 us per level, 14 us); dispatch and combine: two calls
    by_hand = 2 * (2 * ALLREDUCE_HOP_LATENCY_S + 7 / 8 * 16 * 8 * 7168 * 2 / (450 * GB))
    assert speed.alltoall_s(8.0, 16.0, 8.0, 7168.0, 450 * GB) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(35.14e-6, rel=1e-3)  # 2 x (14 + 3.568) us
    assert speed.alltoall_s(1.0, 16.0, 8.0, 7168.0, 450 * GB) == 0.0


@pytest.mark.parametrize("gpus, tokens", [(1, 1), (2, 64), (8, 1), (8, 4096)])
def test_one_rank_without_experts_split_is_two_all_reduces_a_layer(gpus, tokens):
    # dp = 1, ep = 1: the layout's communication is today's tensor-parallel all-reduces
    layout = speed.layout_comm_s(float(gpus), float(gpus), 1.0, 80.0, 0.0, float(tokens), float(tokens), 8192.0, 0.0,
                                 450 * GB, 450 * GB)
    assert layout == pytest.approx(speed.allreduce_s(float(gpus), 80.0, float(tokens), 8192.0, 450 * GB), rel=1e-12)


def test_expert_parallel_decode_step_by_hand():
    # DeepSeek-V3 on 8 H200, batch 64, dp 8 (tp 1): with ep 8 each MoE layer swaps its gather over the
    # 8 GPUs (an all-reduce's traffic: 2 ceil(log2 8) = 6 hops of 6 us, and 2 x 7/8 x 64 x 7168 x 2 B at
    # 450 GB/s) for an all-to-all of the 64 / 8 = 8 tokens of each GPU, top-8 (two calls of 12 us and
    # 7/8 x 8 x 8 x 7168 x 2 B). Nothing else in the step changes (the weights and the KV cache are read
    # alike), so the TPOTs differ by that, and by the traffic of the prompts that join the steps: a
    # 1000-token prompt on one rank (one GPU) sends its tokens to their 8 experts and back, 2 x 7/8 x
    # 1000 x 8 x 7168 x 2 B a layer, where it was gathered and scattered, 2 x 7/8 x 1000 x 7168 x 2 B
    # (the latencies are the step's). vLLM: 63 others, a cycle of 199 + 1 + 0.5 steps, a wave share
    # of 0.1: 63 / 200.5 x (1 - 0.05) prompts join a step. vLLM's collectives move their bytes at its
    # allreduce_bandwidth_share of the 450 GB/s.
    model = load_catalog().model("deepseek-v3")
    link = load_catalog().engine("vllm").allreduce_bandwidth_share * 450 * GB
    h, layers, k = model.hidden_size, model.layers, model.experts_per_token
    all_reduce = 6 * ALLREDUCE_HOP_LATENCY_S + 2 * 7 / 8 * 64 * h * 2 / link
    all_to_all = 2 * (2 * ALLREDUCE_HOP_LATENCY_S + 7 / 8 * 8 * k * h * 2 / link)
    prompt = layers * 2 * 7 / 8 * 1000 * h * 2 * (k - 1) / link
    args = dict(gpus=8, dp=8, batch=64, input_tokens=1000, output_tokens=200)
    tp_only, with_ep = estimate("deepseek-v3", "h200", **args), estimate("deepseek-v3", "h200", ep=8, **args)
    assert with_ep.tpot_s - tp_only.tpot_s == pytest.approx(layers * (all_to_all - all_reduce)
                                                            + 63 / 200.5 * 0.95 * prompt, rel=1e-6)
    assert with_ep.total_memory_gib == pytest.approx(tp_only.total_memory_gib, rel=1e-12)  # experts split alike
    # with one attention rank (tp 8) every GPU holds every token: ep changes no communication
    one_rank = dict(args, dp=None)
    assert estimate("deepseek-v3", "h200", ep=8, **one_rank).tpot_s == estimate("deepseek-v3", "h200", **one_rank).tpot_s


def test_memory_of_a_small_moe_under_tp2_dp4_ep4_by_hand():
    # Mixtral-8x7B in bf16 on 8 H100: dp 4 ranks of tp 2, experts in 4 groups. Its routed experts hold
    # (46.7 - 12.9) / (1 - 2/8) = 45.07 B parameters (the catalog's totals), spread over all 8 GPUs; the
    # other 1.63 B (attention, router, norms, tables) are held by each of the 4 ranks, split over its 2
    # GPUs. Per GPU: 1.63 B x 2 B / 2 + 45.07 B x 2 B / 8 = 1.63 + 11.27 = 12.90 GB of weights.
    model = load_catalog().model("mixtral-8x7b")
    params, active = model.params_b * 1e9, model.active_params_b * 1e9
    experts = (params - active) / (1 - model.experts_per_token / model.experts)
    other = params - experts
    per_gpu = other * 2 / 2 + experts * 2 / 8
    assert per_gpu / GB == pytest.approx(12.90, abs=0.01)
    # the layout holds 3 more copies of the other weights than one rank of tp 8 does; its activations are
    # each rank's pass (1000 prompt tokens) at tp 2: 4 x 2 x 2 B x 32 heads x 128 x c(2) = 13, where
    # tp 8 has 8 x 2 B x 32 x 128 x c(8) = 10 a token (AIConfigurator's MoE factors); the KV cache is
    # the same (8 KV heads: one a GPU at tp 8, four a GPU at tp 2)
    act_delta = 1000 * 2 * 32 * 128 * (4 * 2 * 13 - 8 * 10)
    args = dict(gpus=8, batch=1, input_tokens=1000, output_tokens=100, precision="bf16", engine="vllm")
    one_rank = estimate("mixtral-8x7b", "h100-sxm", **args)
    layout = estimate("mixtral-8x7b", "h100-sxm", tp=2, dp=4, ep=4, **args)
    assert (layout.weights_gib - one_rank.weights_gib) * 2**30 == pytest.approx(3 * other * 2, rel=1e-6)
    assert layout.kv_cache_gib == pytest.approx(one_rank.kv_cache_gib, rel=1e-12)
    assert (layout.activations_gib - one_rank.activations_gib) * 2**30 == pytest.approx(act_delta, rel=1e-6)
    delta_bytes = (layout.total_memory_gib - one_rank.total_memory_gib) * 2**30
    assert delta_bytes == pytest.approx(3 * other * 2 + act_delta, rel=1e-6)
    # the weights held over the 8 GPUs (all GPUs together, as every memory output) are the per-GPU figure 8 times
    assert layout.weights_gib * 2**30 / 8 == pytest.approx(per_gpu, rel=1e-6)


def test_dp_attention_keeps_one_mla_latent_per_sequence():
    # MLA stores one latent per token on every GPU of a tensor-parallel group: at tp 8 eight copies,
    # at dp 8 (tp 1) each rank holds its own sequences' latent once
    args = dict(gpus=8, batch=64, input_tokens=1000, output_tokens=1000)
    tp8, dp8 = estimate("deepseek-v3", "h200", **args), estimate("deepseek-v3", "h200", dp=8, **args)
    assert tp8.kv_cache_gib == pytest.approx(8 * dp8.kv_cache_gib, rel=1e-12)


def test_an_empty_layout_is_the_default_one():
    args = dict(gpus=4, batch=16, input_tokens=2000, output_tokens=500)
    plain = estimate("llama-3.1-70b", "h100-sxm", **args)
    stated = estimate("llama-3.1-70b", "h100-sxm", tp=4, dp=1, **args)
    assert (plain.tpot_s, plain.ttft_s, plain.total_memory_gib) == (stated.tpot_s, stated.ttft_s,
                                                                     stated.total_memory_gib)


def test_more_gpus_than_one_nvlink_domain_pay_the_network(tmp_path):
    # Llama-3.1-70B on 16 H100 (two 8-GPU nodes), batch 1: each of the 2 x 80 all-reduces a step of
    # 8192 x 2 B = 16,384 B reduces over NVLink in each node (2 x 7/8 of it at 450 GB/s), then the two
    # nodes swap each GPU's eighth over its 50 GB/s ConnectX-7 port (2 x 1/2 x 16,384 / 8 B); in one
    # 16-GPU domain it would be 2 x 15/16 x 16,384 B at 450 GB/s. The tree's latency is the same. vLLM's
    # collectives reach its allreduce_bandwidth_share of either link.
    overlay = tmp_path / "wide.toml"
    overlay.write_text('[[hardware]]\nid = "h100-sxm"\nnvlink_domain_gpus = 16\nsource = "t"\nas_of = "2026-11-30"\n')
    args = dict(gpus=16, batch=1, input_tokens=1000, output_tokens=100)
    two_nodes = estimate("llama-3.1-70b", "h100-sxm", **args)
    one_domain = estimate("llama-3.1-70b", "h100-sxm", catalog=[overlay], **args)
    message = 8192 * 2
    share = load_catalog().engine("vllm").allreduce_bandwidth_share
    by_hand = 2 * 80 * (2 * 7 / 8 * message / (450 * GB) + 2 * 1 / 2 * message / 8 / (50 * GB)
                        - 2 * 15 / 16 * message / (450 * GB)) / share
    assert two_nodes.tpot_s - one_domain.tpot_s == pytest.approx(by_hand, rel=1e-6)
    assert load_catalog().hardware("gb200").nvlink_domain_gpus == 72


@pytest.mark.parametrize("model, options, message", [
    ("deepseek-v3", dict(gpus=8, tp=4), "tp x dp must equal gpus (8), got tp x dp = 4. Give gpus = tp x dp, or "
                                        "leave tp empty (gpus / dp)"),
    ("deepseek-v3", dict(gpus=8, dp=3), "dp '3' must divide gpus (8): each rank has gpus / dp GPUs. Use a dp that "
                                        "divides gpus"),
    ("deepseek-v3", dict(gpus="auto", dp=2), "gpus 'auto' takes no layout (got dp 2, ep 1, or a tp): it tries "
                                             "tp = gpus alone. Give gpus = tp x dp as a count"),
    ("deepseek-v3", dict(gpus=6, tp=6), "tp '6' must divide the model's 128 attention heads. Use a tp that divides "
                                        "them (a power of two)"),
    ("llama-3.1-70b", dict(gpus=8, ep=8), "ep '8' needs a mixture-of-experts model: this one has 0 routed experts. "
                                          "Leave ep empty or 1"),
    ("deepseek-v3", dict(gpus=6, ep=3, dp=6), "ep '3' must divide the model's 256 routed experts. Use an ep that "
                                              "divides them"),
    ("deepseek-v3", dict(gpus=8, ep=16), "ep '16' must divide gpus (8): the experts are spread over all GPUs, "
                                         "gpus / ep to a group. Use an ep that divides gpus"),
    ("llama-3.1-8b", dict(gpus=2, tp=2, engine="llama.cpp"), "tp, dp and ep split tensors: engine 'llama.cpp' "
     "splits layers across its 2 GPUs. Use vllm, sglang or tensorrt-llm, or leave tp, dp and ep empty"),
])
def test_layouts_the_model_or_engine_cannot_take(model, options, message):
    with pytest.raises(InvalidValueError) as caught:
        estimate(model, "h200", **options)
    assert str(caught.value) == message


def test_the_command_line_takes_a_layout_and_names_a_bad_one():
    runner = CliRunner()
    ok = runner.invoke(cli, ["estimate", "--model", "deepseek-v3", "--hardware", "h200", "--gpus", "8", "--dp", "8", "--ep", "8"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["estimate", "--model", "deepseek-v3", "--hardware", "h200", "--gpus", "8", "--tp", "4"])
    assert bad.exit_code != 0
    assert "Error: tp x dp must equal gpus (8), got tp x dp = 4." in bad.output
    assert "Traceback" not in bad.output


ROWS = [dict(scenario="tp8", model="deepseek-v3", hardware="h200", gpus=8, batch=32),
        dict(scenario="dp8 ep8", model="deepseek-v3", hardware="h200", gpus=8, batch=32, dp=8, ep=8),
        dict(scenario="tp2 dp4 ep4", model="mixtral-8x7b", hardware="h100-sxm", gpus=8, batch=8, tp=2, dp=4, ep=4),
        dict(scenario="two nodes", model="llama-3.1-70b", hardware="h100-sxm", gpus=16, batch=4),
        dict(scenario="b200 x 16 ep", model="deepseek-r1", hardware="b200", gpus=16, batch=64, dp=16, ep=16)]


def _layout_book(tmp_path):
    return save_atomically(build_workbook(ROWS), tmp_path / "layouts.xlsx")


def test_the_workbook_stores_the_layouts_the_core_computes(tmp_path):
    got = scenario_outputs(load_values(_layout_book(tmp_path))["Scenarios"], len(ROWS))
    assert mismatches("stored values", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_libreoffice_computes_the_layouts_the_core_does(tmp_path):
    wb = load_values(recalculate(_layout_book(tmp_path), tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert [got(i, "check") for i in range(len(ROWS)) if got(i, "check")] == []
    assert mismatches("LibreOffice", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_gnumeric
def test_gnumeric_computes_the_layouts_the_core_does(tmp_path):
    result = recalculate_gnumeric(_layout_book(tmp_path), tmp_path)
    got = scenario_outputs(load_values(result.path)["Scenarios"], len(ROWS))
    assert mismatches("Gnumeric", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_the_workbook_names_a_bad_layout(tmp_path):
    rows = [dict(scenario="bad", model="deepseek-v3", hardware="h200", gpus=8, tp=4)]
    path = save_atomically(build_workbook(rows), tmp_path / "bad.xlsx")
    got = scenario_outputs(load_values(recalculate(path, tmp_path))["Scenarios"], 1)
    assert "tp x dp must equal gpus." in str(got(0, "check"))


def test_excel_and_fill_take_the_layout_as_the_core_does(tmp_path):
    import csv

    from llmcalc_xl.excel.functions import ESTIMATE_MORE, LLM_ESTIMATE

    core = estimate("deepseek-v3", "h200", gpus=8, batch=64, input_tokens=1000, output_tokens=200, dp=8, ep=8)
    more = [None] * len(ESTIMATE_MORE)
    more[ESTIMATE_MORE.index("dp")], more[ESTIMATE_MORE.index("ep")] = 8.0, 8.0
    names, values = LLM_ESTIMATE("deepseek-v3", "h200", 1000.0, 200.0, 8.0, None, 64.0, None, None, None, None, *more)
    assert dict(zip(names, values))["tpot_s"] == pytest.approx(core.tpot_s, rel=1e-12)
    src = tmp_path / "in.csv"
    src.write_text("model,hardware,gpus,batch,input_tokens,output_tokens,dp,ep\n"
                   "deepseek-v3,h200,8,64,1000,200,8,8\ndeepseek-v3,h200,8,64,1000,200,,16\n")
    result = CliRunner().invoke(cli, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    out = list(csv.DictReader(open(tmp_path / "out.csv", newline="", encoding="utf-8")))
    assert float(out[0]["tpot_s"]) == pytest.approx(core.tpot_s, rel=1e-9)
    assert out[1]["error"].startswith("ep '16' must divide gpus (8)")


#: The layout each scenario runs with, by the README's rule (gpus = tp x dp; tp = gpus / dp, dp = ep = 1
#: where not given; no layout for an engine that splits layers or for an API model)
ECHOED = [
    (dict(model="deepseek-v3", hardware="h200", precision="fp8", gpus=8, dp=8), (1, 8, 1)),
    (dict(model="deepseek-v3", hardware="h200", precision="fp8", gpus=8, dp=8, ep=8), (1, 8, 8)),
    (dict(model="llama-3.1-70b", hardware="h100-sxm", gpus=4), (4, 1, 1)),
    (dict(model="mixtral-8x7b", hardware="h100-sxm", gpus=8, tp=2, dp=4, ep=4), (2, 4, 4)),
    (dict(model="llama-3.1-70b", hardware="h100-sxm", gpus="auto"), (2, 1, 1)),  # 70B in 16 bits: 2 x 80 GB
    (dict(model="llama-3.1-8b", hardware="rtx-4090", gpus=2, engine="llama.cpp"), (None, None, None)),
    (dict(model="gpt-4o"), (None, None, None)),
]


@pytest.mark.parametrize("row, layout", ECHOED)
def test_every_surface_echoes_the_layout_it_used(row, layout, tmp_path):
    import csv
    import inspect
    import json

    from llmcalc_xl.excel.functions import LLM_ESTIMATE

    shown = estimate(**row).to_dict()
    assert (shown["tp"], shown["dp"], shown["ep"]) == layout
    args = [a for k, v in row.items() for a in ("--" + k, str(v))]
    result = CliRunner().invoke(cli, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["tp"], shown["dp"], shown["ep"]) == layout
    params = list(inspect.signature(LLM_ESTIMATE).parameters)
    names, values = LLM_ESTIMATE(*[float(row[p]) if isinstance(row.get(p), int) else row.get(p) for p in params])
    shown = dict(zip(names, values))
    assert (shown["tp"], shown["dp"], shown["ep"]) == tuple(None if v is None else float(v) for v in layout)
    src = tmp_path / "in.csv"
    src.write_text(",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n")
    result = CliRunner().invoke(cli, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    out = next(csv.DictReader(open(tmp_path / "out.csv", newline="", encoding="utf-8")))
    given = {k for k in ("tp", "dp", "ep") if k in row}  # a column given keeps its own: the result is beside it
    assert tuple(out[f"{k}_result" if k in given else k] for k in ("tp", "dp", "ep")) == \
        tuple("" if v is None else str(v) for v in layout)
