"""How benchmarks/accuracy.py reads the loaded-serving rows it keeps out of the goals: the sweeps that
ran speculative decoding, the rows whose batch_size counts one GPU's or one rank's share of the
clients, the closed-loop queue for rows with more clients than the KV cache holds, and the sweeps whose
TTFT is an older build's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import accuracy  # noqa: E402

MODELS = {"deepseek-r1", "deepseek-v3", "qwen3-32b"}


def _row(**fields) -> dict:
    """An aggregated AIConfigurator row (the columns serving_scenario reads), DeepSeek-R1 on 8 B200."""
    row = dict(id="r_c32", backend="trtllm", backend_version="1.2.0rc6.post2", model_path="deepseek-ai/DeepSeek-R1",
               system="b200_sxm", mode="agg", isl="1024", osl="1024", gemm_quant_mode="fp8", moe_quant_mode="fp8",
               batch_size="32", tp_size="8", pp_size="1", attention_dp_size="1", moe_tp_size="1", moe_ep_size="1",
               silicon_data_source="silicon_concurrency=32")
    row.update(fields)
    return row


@pytest.mark.parametrize("fields, speculative", [
    ({}, False),                                                      # 1.2.0rc6.post2: no drafts
    ({"backend_version": "1.2.0rc6.post3"}, True),                    # the same deployment, 1.5-2.2x as fast
    ({"system": "gb200", "backend_version": ""}, True),               # the GB200 sweep of November 2025
    ({"system": "gb200", "backend_version": "1.2.0rc6.post1"}, False),
    ({"model_path": "deepseek-ai/DeepSeek-V3", "backend_version": "1.2.0rc6.post3"}, False),
    ({"backend": "sglang", "backend_version": "1.2.0rc6.post3"}, False),
])
def test_speculative_sweeps(fields, speculative):
    row = _row(**fields)
    assert accuracy.ran_speculative_decoding(row) is speculative
    args, _ = accuracy.serving_scenario(row, MODELS)
    assert args["mode"] == ("agg-speculative" if speculative else "agg")


def test_batch_size_per_rank_puts_every_client_in_flight():
    # 64 clients on tp 2 with batch_size 32: 32 a GPU, 64 in flight
    args, _ = accuracy.serving_scenario(_row(model_path="Qwen/Qwen3-32B", tp_size="2", batch_size="32",
                                             silicon_data_source="silicon_concurrency=64"), MODELS)
    assert args["mode"] == "agg-per-rank"
    assert args["batch"] == 64 and args["jobs"]["tpot_ms"]["batch"] == 64
    # 48 clients on tp 2 with batch_size 32: not a per-GPU count, left unscored
    args, why = accuracy.serving_scenario(_row(model_path="Qwen/Qwen3-32B", tp_size="2", batch_size="32",
                                               silicon_data_source="silicon_concurrency=48"), MODELS)
    assert args is None and "queueing" in why


def test_closed_loop_queue_by_hand():
    # 64 clients, 16 slots, each request 10 s at batch 16 (TTFT 0.2 s there): X = 1.6 requests/s,
    # a cycle is 64 / 1.6 = 40 s, so the wait is 40 - 10 = 30 s before the 0.2 s TTFT
    assert accuracy.closed_loop_queue_ttft_s(64, 16, 0.2, 10.0) == pytest.approx(30.2)
    # as many clients as slots: no queue
    assert accuracy.closed_loop_queue_ttft_s(16, 16, 0.2, 10.0) == pytest.approx(0.2)


def test_a_measurement_copied_is_scored_once():
    first = _row(id="a", silicon_ttft_ms="210.5", silicon_tpot_ms="12.25")
    copy_under_v3 = dict(first, id="b", model_path="deepseek-ai/DeepSeek-V3", silicon_data_source="db-dump")
    other_load = dict(first, id="c", batch_size="64", silicon_data_source="silicon_concurrency=64")
    kept = accuracy.distinct_measurements([first, copy_under_v3, other_load])
    assert [row["id"] for row in kept] == ["a", "c"]


def _sweep(version: str, fmt: str, ttft_ms: dict, tpot_ms: float, **fields) -> list[dict]:
    """One SGLang sweep on 8 B200: a row per clients count, the TTFT given per count."""
    return [_row(backend="sglang", backend_version=version, gemm_quant_mode=fmt, moe_quant_mode=fmt,
                 batch_size=str(c), id=f"r_c{c}", silicon_data_source=f"silicon_concurrency={c}",
                 silicon_ttft_ms=str(t), silicon_tpot_ms=str(tpot_ms), **fields) for c, t in ttft_ms.items()]


STATED = _sweep("0.5.9", "fp8", {4: 200.0, 32: 500.0, 128: 800.0}, 20.0)


@pytest.mark.parametrize("ttft_ms, tpot_ms, marked", [
    ({4: 400.0, 32: 7000.0, 128: 7500.0}, 19.0, True),    # TTFT 2-15x at the same TPOT: another build's
    ({4: 300.0, 32: 600.0, 128: 900.0}, 20.0, False),     # 1.1-1.5x: within what builds and formats differ by
    ({4: 400.0, 32: 7000.0, 128: 7500.0}, 30.0, False),   # TPOT 1.5x too: the deployment itself differs
])
def test_older_build_ttft_sweeps_by_the_measurements_alone(ttft_ms, tpot_ms, marked):
    older = _sweep("", "nvfp4", ttft_ms, tpot_ms)
    sweeps = accuracy.older_build_ttft_sweeps(STATED + older)
    assert [accuracy.older_build_ttft(r, sweeps) for r in older] == [marked] * len(older)
    assert not any(accuracy.older_build_ttft(r, sweeps) for r in STATED)  # a stated release is never marked


def test_older_build_needs_a_counterpart_with_a_stated_release():
    # the same inflated sweep on another tensor-parallel size than the stated one has no counterpart
    older = _sweep("", "nvfp4", {4: 400.0, 32: 7000.0, 128: 7500.0}, 19.0, tp_size="4")
    sweeps = accuracy.older_build_ttft_sweeps(STATED + older)
    assert not any(accuracy.older_build_ttft(r, sweeps) for r in older)
    # a no-release sweep whose counterpart is also without a release: nothing to compare with
    assert accuracy.older_build_ttft_sweeps(older + _sweep("", "fp8", {4: 200.0, 32: 500.0, 128: 800.0}, 19.0,
                                                           tp_size="4")) == set()
