"""batch = max: the largest batch that fits, capped by the engine's own maximum, on every surface.

The expectations are hand arithmetic from the catalog's numbers and the engines' published
defaults (engines.toml names the sources: vLLM's arg_utils.py, SGLang's model_runner.py,
TensorRT-LLM's llm_args.py, llama.cpp PR #16736), not figures read back from the code.
"""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate
from llmcalc_xl.cli.main import main
from llmcalc_xl.core.estimate import estimate_many
from llmcalc_xl.core.plan import plan
from llmcalc_xl.errors import InvalidValueError
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.core import physics
from llmcalc_xl.workbook.build import FIRST_ROW, HEADER_ROW, build_workbook, save_atomically

from .spreadsheets import (core_of, load_values, mismatches, needs_gnumeric, needs_libreoffice, problem, recalculate,
                           recalculate_gnumeric, scenario_outputs)

GIB = 2.0**30
SHORT = dict(input_tokens=100, output_tokens=100)


def cell(v):
    """A single cell as xlwings passes it to an ndim=2 argument."""
    return [[v]]


def test_the_largest_batch_that_fits_by_hand():
    # Llama 3.1 8B in fp16 on an L4 with transformers (no cap of its own), 1,000 in + 100 out tokens
    weights = 8.030261248e9 * 2                  # every tensor at 16 bits
    overhead = (0.3 + 0.4) * GIB                 # transformers' own 0.3 GiB + the CUDA context (one GPU: no NCCL)
    budget = 22.494 * GIB - weights - overhead   # transformers may use all of the L4's 22.494 GiB
    per_sequence = 1100 * (2 * 8 * 128 * 2) * 32 + 128256 * 4  # K and V of the context (no blocks) + fp32 logits
    per_prompt_token = 2 * 32 * 128 * 10         # 16-bit activations x heads x head dim x c(TP 1) = 10
    batch = math.floor(budget / (per_sequence + per_prompt_token * 1000))  # one pass holds every prompt
    assert batch == 32
    r = estimate("llama-3.1-8b", "l4", engine="transformers", batch="max", input_tokens=1000, output_tokens=100)
    assert (r.batch, r.max_batch, r.fits) == (batch, batch, True)
    assert r.kv_cache_gib == pytest.approx(batch * 1100 * 2 * 8 * 128 * 2 * 32 / GIB, rel=1e-12)
    # the same deployment as a batch of that many, given as a number
    assert r.to_dict() == estimate("llama-3.1-8b", "l4", engine="transformers", batch=batch, input_tokens=1000,
                                   output_tokens=100).to_dict()


@pytest.mark.parametrize("hardware, engine, cap", [
    ("h200", "vllm", 1024),            # vLLM: 1024 on GPUs of 70 GiB or more...
    ("h100-sxm", "vllm", 1024),
    ("a100-80gb", "vllm", 256),        # ...except A100s (arg_utils.py: "a100" not in device_name)
    ("l40s", "vllm", 256),             # 48 GB: under 70 GiB
    ("h200", "sglang", 4096),          # max_running_requests: the request pool's upper end
    ("h200", "tensorrt-llm", 2048),    # trtllm-serve / LLM API max_batch_size
    ("h200", "llama.cpp", 4),          # llama-server's 4 slots
])
def test_the_engines_cap_binds_where_memory_holds_more(hardware, engine, cap):
    # Llama 3.2 1B, 100 + 100 tokens: a sequence takes at most 208 tokens x 2 x 8 x 64 x 2 B x 16 layers of KV,
    # 128,256 x 4 B of logits and 100 x 2 x 32 x 64 x 10 B of activations: under 11.5 MB; the weights are
    # 2.5 GB, so even 40 GB leave room for more than 3,000 sequences, and an H200 for more than 10,000
    per_sequence = 208 * 2 * 8 * 64 * 2 * 16 + 128256 * 4 + 100 * 2 * 32 * 64 * 10
    assert per_sequence < 11.5e6
    r = estimate("llama-3.2-1b", hardware, engine=engine, batch="max", **SHORT)
    assert r.max_batch > cap
    assert (r.batch, r.fits) == (cap, True)


def test_no_cap_of_its_own_is_memory_alone_and_a_custom_device_is_no_a100():
    r = estimate("llama-3.2-1b", "h200", engine="transformers", batch="max", **SHORT)
    assert r.batch == r.max_batch > 4096
    # a device described by its numbers: 96 GiB, no A100 in its name, so vLLM's larger default
    assert estimate("llama-3.2-1b", memory_gib=96, bandwidth_gb_s=1800, tflops=500, batch="max", **SHORT).batch == 1024
    # a catalog device with its memory overridden below 70 GiB takes the smaller default
    assert estimate("llama-3.2-1b", "h200", memory_gib=64, batch="max", **SHORT).batch == 256


def test_gpus_auto_takes_the_fewest_that_hold_one_sequence_then_the_largest_batch_on_them():
    # Llama 3.1 70B in fp16 is 141 GB of weights: more than one 80 GiB H100 lets vLLM use (0.92 x 80 GiB =
    # 79 GB), less than two; tensor parallelism takes powers of two, so 2 GPUs
    r = estimate("llama-3.1-70b", "h100-sxm", gpus="auto", batch="max")
    on_two = estimate("llama-3.1-70b", "h100-sxm", gpus=2)
    assert (r.gpus, r.fits) == (2, True)
    assert r.batch == min(on_two.max_batch, 1024) == on_two.max_batch  # memory binds here, not vLLM's 1024
    assert r.batch > 1


def test_not_even_one_sequence_fits_gives_the_usual_answer():
    r = estimate("llama-3.1-70b", "rtx-4090", batch="max")
    one = estimate("llama-3.1-70b", "rtx-4090", batch=1)
    assert (r.batch, r.max_batch, r.fits) == (1, 0, False)
    assert [n.text for n in r.notes] == [n.text for n in one.notes]
    assert r.notes[0].kind == "does_not_fit" and r.notes[0].text.startswith("does not fit: needs")
    assert r.throughput_tokens_per_s is None and r.cost_per_request_usd is None


@pytest.mark.parametrize("typed, message", [
    ("maximum", "batch must be a number or max, got 'maximum'"),
    ("=max", "batch must be a number or max, got '=max'"),
    ("-1", "batch must be >= 1 or max, got -1"),
    (0, "batch must be >= 1 or max, got 0"),
    (2.5, "batch must be a whole number or max, got 2.5"),
])
def test_bad_batches_get_one_clear_message(typed, message):
    with pytest.raises(InvalidValueError) as caught:
        estimate("llama-3.1-8b", "h100-sxm", batch=typed)
    assert str(caught.value) == message
    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm",
                                  "--batch", str(typed)])
    assert (r.exit_code, r.output) == (2, f"Error: {message}\n")  # 2: bad input, as for every option
    assert udfs.LLM_THROUGHPUT(cell("llama-3.1-8b"), cell("h100-sxm"), cell(100.0), cell(100.0),
                               batch=cell(typed)) == f"#LLM! {message}."


def test_columns_mix_counts_and_max_any_case():
    got = estimate_many("llama-3.2-1b", ["h200", "h200", "a100-80gb", "h200"], batch=["max", " MAX ", "max", 3],
                        **SHORT)
    assert got["batch"].tolist() == [1024, 1024, 256, 3]
    assert list(got["error"]) == [None] * 4


def test_the_command_line_reports_the_batch_served():
    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3.2-1b", "--hardware", "h200", "--batch", "max",
                                  "--input-tokens", "100", "--output-tokens", "100", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["batch"], d["engine"]) == (1024, "vllm") and d["max_batch"] > 1024
    text = CliRunner().invoke(main, ["estimate", "--model", "llama-3.2-1b", "--hardware", "h200", "--batch", "max",
                                     "--input-tokens", "100", "--output-tokens", "100"]).output
    assert "1,024 sequences at once (batch max: the largest that fits, capped by the engine's own maximum)" in text


def test_fill_reads_max_cells_and_refuses_other_words(tmp_path):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["model", "hardware", "input_tokens", "output_tokens", "batch"],
                                  ["llama-3.2-1b", "h200", "100", "100", "max"],
                                  ["llama-3.2-1b", "a100-80gb", "100", "100", "Max"],
                                  ["llama-3.2-1b", "h200", "100", "100", "maximum"],
                                  ["llama-3.2-1b", "h200", "100", "100", "2"]])
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    out = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert [o["batch_result"] for o in out] == ["1024", "256", "", "2"]
    assert [o["status"] for o in out] == ["ok", "ok", "error", "ok"]
    assert out[2]["error"] == "batch must be a number or max, got 'maximum'"


def test_excel_functions_take_max():
    core = estimate("llama-3.2-1b", "h200", batch="max", **SHORT)
    got = udfs.LLM_THROUGHPUT(cell("llama-3.2-1b"), cell("h200"), cell(100.0), cell(100.0), batch=cell("max"))
    assert got == core.throughput_tokens_per_s
    assert got == estimate("llama-3.2-1b", "h200", batch=1024, **SHORT).throughput_tokens_per_s


def test_plan_never_runs_more_sequences_than_the_engine():
    # llama.cpp serves 4 at once: the cheapest fleet for a heavy load adds replicas, not sequences
    p = plan(["llama-3.2-1b"], requests_per_s=200, hardware=["h200"], engine="llama.cpp", **SHORT)
    best = p.self_hosted[0]
    assert best["batch"] <= 4 and best["max_batch"] > 4
    assert best["replicas"] > 1


# --- the quote workbook: an input cell "max" computes the same batch with live formulas ---------------------

GOOD = [
    dict(model="llama-3.2-1b", hardware="h200", batch="max", requests_per_month=1e6, **SHORT),
    dict(model="llama-3.2-1b", hardware="a100-80gb", batch="MAX ", **SHORT),
    dict(model="llama-3.2-1b", hardware="h200", engine="sglang", batch="max", **SHORT),
    dict(model="llama-3.2-1b", hardware="h200", engine="tensorrt-llm", batch="max", **SHORT),
    dict(model="llama-3.2-1b", hardware="h200", engine="llama.cpp", batch="max", **SHORT),
    dict(model="llama-3.1-8b", hardware="l4", engine="transformers", batch="max", input_tokens=1000,
         output_tokens=100),
    dict(model="llama-3.1-70b", hardware="h100-sxm", gpus="auto", batch="max"),
    dict(model="llama-3.1-70b", hardware="rtx-4090", batch="max"),
    dict(model="llama-3.2-1b", memory_gib=96, bandwidth_gb_s=1800, tflops=500, batch="max", **SHORT),
    dict(model="llama-3.1-8b", hardware="h100-sxm", batch=7),
]
BAD = [dict(model="llama-3.1-8b", hardware="h100-sxm", batch="maximum"),
       dict(model="llama-3.1-8b", hardware="h100-sxm", batch=-1)]


@pytest.fixture(scope="module")
def max_book(tmp_path_factory, cat):
    tmp = tmp_path_factory.mktemp("batch_max")
    path = save_atomically(build_workbook(GOOD + BAD, catalog=cat), tmp / "batch_max.xlsx")
    core = core_of(GOOD, cat)
    assert core["batch"].tolist() == [1024, 256, 4096, 2048, 4, 32, core["batch"][6], 1, 1024, 7]
    return core, path, tmp


def _check_book(engine, core, path):
    wb = load_values(path)
    got = scenario_outputs(wb["Scenarios"], len(GOOD) + len(BAD))
    assert [problem(got(i, "check")) for i in range(len(GOOD))] == [None] * len(GOOD)
    bad = mismatches(engine, GOOD, core, got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit")
    assert bad == [], "\n".join(bad[:20])
    assert "batch must be a number or max, got 'maximum'" in got(len(GOOD), "check")
    assert "batch must be >= 1" in got(len(GOOD) + 1, "check")
    # the batch the Calc sheet serves, cell by cell
    calc = wb["Calc"]
    column = next(c for c in range(1, calc.max_column + 1)
                  if calc.cell(HEADER_ROW, c).value == physics.LABELS["served_batch"])
    assert [calc.cell(FIRST_ROW + i, column).value for i in range(len(GOOD))] == core["batch"].tolist()


@needs_libreoffice
def test_libreoffice_serves_the_same_batch(max_book):
    core, path, tmp = max_book
    _check_book("LibreOffice", core, recalculate(path, tmp))


@needs_gnumeric
def test_gnumeric_serves_the_same_batch(max_book):
    core, path, tmp = max_book
    _check_book("Gnumeric", core, recalculate_gnumeric(path, tmp).path)
