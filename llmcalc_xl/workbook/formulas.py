"""The estimate as native Excel formulas: the quote workbook's Calc sheet.

Each column below mirrors one quantity of the core (``estimate.py``, ``memory.py``,
``speed.py``, ``cost.py``), in the same order of operations, so that a spreadsheet engine
computes the same numbers; a LibreOffice test checks every output against the core.
Only functions that Excel 2010+ and LibreOffice 7.4 both compute are used (INDEX, MATCH,
IF, IFERROR, AND, OR, MIN, MAX, INT, ROUNDUP). A template's ``{name}`` is the same row's
cell of column ``name`` (a Calc column or a Scenarios input); ``M(...)``, ``H(...)``,
``E(...)`` and ``P(...)`` look a field up in the Models, Hardware, Engines and Precisions
tables through their defined names.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from dataclasses import dataclass

import numpy as np

from ..catalogs.loader import CALIBRATED_FIELDS, normalize
from ..core import defaults, physics
from ..core.options import BY_NAME, CATALOG_OPTIONS, CHOICE_OPTIONS, OPTIONS, TEXT_OPTIONS
from .symbolic import Expr, Symbol, call, concat, is_number, literal


@dataclass(frozen=True)
class Calc:
    key: str
    formula: str           # template without "="
    header: str = ""
    fmt: str = "General"



#: Scenario inputs (Scenarios sheet), in column order: key, header, what an empty cell means
#: (a number: that default; text: said as is; None: nothing, or the catalog's value). A free-text
#: label, then every option of the core, from its option table (``core/options.py``).
INPUTS = (("scenario", "Scenario", None),) + tuple((o.name, o.header, o.cell_empty) for o in OPTIONS)
#: Inputs placed right of the results (device, engine and owned-hardware overrides).
ADVANCED_INPUTS = tuple(o.name for o in OPTIONS if o.advanced)
#: Text inputs: those matched against the catalogs (ids, aliases, any case or spacing) and those
#: that take one of a few words (pricing).
TEXT_INPUTS = TEXT_OPTIONS
INPUT_KEYS = tuple(k for k, _, _ in INPUTS)

#: The date an assumption's figure was last checked, where its source carries none of its own.
CHECKED = "2026-11-26"
#: When each assumption's source is dated (else CHECKED).
ASSUMPTION_DATES = {"cuda_context_gib": "2023-09-23", "nccl_buffers_gib": "2023-08-16"}

#: Named cells of the Assumptions sheet: name, value, unit, source.
ASSUMPTIONS = (
    ("utilization", defaults.DEFAULT_UTILIZATION, "share 0-1",
     "Share of time self-hosted GPUs do useful work; 1 prices GPU time at cost (llmcalc-xl default)"),
    ("hours_per_month", 730.0, "h", "8,760 hours a year / 12 months, the cloud providers' convention"),
    ("currency", "USD", "ISO 4217", "Catalog prices are USD; set the quote currency and its rate"),
    ("fx_rate", 1.0, "currency per USD", "Set with its date and source when the quote is not in USD"),
    ("compare_api_model", "gpt-4o", "model id", "API model the Quote sheet compares each scenario with"),
    ("quote_date", None, "YYYY-MM-DD",
     "The quote's date (the day it was built): API prices are those in force that day, and a model retired "
     "by then is noted in Check. Prices follow another date after a rebuild or refresh"),
    ("default_precision", defaults.DEFAULT_PRECISION, "precision id", "Weights as most checkpoints ship"),
    ("cuda_context_gib", defaults.CUDA_CONTEXT_GIB, "GiB per GPU",
     "pytorch/pytorch PR #86509 (274 MiB lazy loading) and issue #109888 (~400 MB)"),
    ("nccl_buffers_gib", defaults.NCCL_BUFFERS_GIB, "GiB per GPU", "NVIDIA/nccl issue #964: 544-688 MB"),
    ("logit_bytes", defaults.LOGIT_BYTES, "bytes", "fp32 logits per vocabulary entry per sequence"),
    ("activation_bytes", defaults.ACTIVATION_BYTES, "bytes", "16-bit activations between layers"),
    ("act_dense_tp1", defaults.ACTIVATION_FACTOR_DENSE[1], "x", "NVIDIA AIConfigurator activation model"),
    ("act_dense_tp2", defaults.ACTIVATION_FACTOR_DENSE[2], "x", "NVIDIA AIConfigurator activation model"),
    ("act_dense_tp4", defaults.ACTIVATION_FACTOR_DENSE[4], "x", "NVIDIA AIConfigurator activation model"),
    ("act_dense_tp8", defaults.ACTIVATION_FACTOR_DENSE[8], "x", "NVIDIA AIConfigurator activation model"),
    ("act_moe_tp1", defaults.ACTIVATION_FACTOR_MOE[1], "x", "NVIDIA AIConfigurator activation model"),
    ("act_moe_tp2", defaults.ACTIVATION_FACTOR_MOE[2], "x", "NVIDIA AIConfigurator activation model"),
    ("act_moe_tp4", defaults.ACTIVATION_FACTOR_MOE[4], "x", "NVIDIA AIConfigurator activation model"),
    ("act_moe_tp8", defaults.ACTIVATION_FACTOR_MOE[8], "x", "NVIDIA AIConfigurator activation model"),
    ("share_v_default", defaults.LLAMA2_7B_SHARES[0], "share", "Llama-2-7B attn_v share (no intermediate_size)"),
    ("share_down_default", defaults.LLAMA2_7B_SHARES[1], "share", "Llama-2-7B ffn_down share"),
    ("share_o_default", defaults.LLAMA2_7B_SHARES[2], "share", "Llama-2-7B attn_output share"),
    ("allreduce_latency_s", defaults.ALLREDUCE_LATENCY_S, "s",
     "latency of one activation hop between GPUs (layer split): nccl-tests small-message latency, 5-10 us"),
    ("allreduce_hop_latency_s", defaults.ALLREDUCE_HOP_LATENCY_S, "s",
     "tensor-parallel all-reduce: latency per tree level, up and down (fitted: benchmarks/fit_serving.py)"),
    ("state_bytes", defaults.STATE_BYTES, "bytes",
     "16-bit recurrent state of linear-attention layers (vLLM mamba_utils.py: follows the model dtype)"),
    ("indexer_bytes_per_value", defaults.INDEXER_BYTES_PER_VALUE, "bytes",
     "DeepSeek sparse attention indexer keys: fp8 plus an fp32 scale per 128 (vLLM DeepSeek-V3.2)"),
    ("default_link_gb_s", defaults.DEFAULT_LINK_GB_S, "GB/s", "PCIe 4.0 x16, one direction"),
    ("alltoall_latency_s", defaults.ALLTOALL_LATENCY_S, "s",
     "expert-parallel all-to-all (dispatch or combine): latency per call, 2 x the all-reduce's per level"),
    ("default_scale_out_gb_s", defaults.DEFAULT_SCALE_OUT_GB_S, "GB/s",
     "between nodes, per GPU one direction: one 400 Gb/s ConnectX-7 port (NVIDIA DGX BasePOD architecture)"),
    ("sensitivity_share", defaults.DEFAULT_SENSITIVITY_SHARE, "share 0-1",
     "How far each driver moves down and up on the Sensitivity sheet (llmcalc-xl's choice; any share from 0 to 1)"),
    ("sensitivity_scenario", 1, "row of the Quote sheet", "The scenario the Sensitivity sheet shows (1: the first)"),
)

#: GPU counts tried for "GPUs needed" (tensor parallelism only takes the powers of two).
GPU_CANDIDATES = tuple(sorted(set(defaults.TENSOR_GPU_COUNTS) | set(defaults.LAYER_GPU_COUNTS)))

# --- the Calc sheet, generated from the core's physics -------------------------------------------

def ref(key: str, na: bool = False, numeric: bool = False) -> Symbol:
    """The row's cell of a Calc column or a Scenarios input (``na``: it may hold #N/A; ``numeric``:
    it holds a number or an error)."""
    return Expr("{" + key + "}", na=na, numeric=numeric)


def name(defined: str) -> Symbol:
    """A defined name of the workbook (an Assumptions cell, a catalog column)."""
    return Expr(defined)


class CalcSheet:
    """The physics' ``let`` for the workbook: each named quantity becomes a Calc column whose
    formula is the quantity's expression; later expressions refer to its cell."""

    def __init__(self):
        self.columns: list[Calc] = []
        self._keys: set[str] = set()
        self._formulas: dict[str, str] = {}  # formula text -> the first column that has it

    def add(self, key: str, value, header: str = "") -> Symbol:
        if key in self._keys or key in INPUT_KEYS:
            raise ValueError(f"Calc column {key!r} is defined twice (or is a Scenarios input).")
        self._keys.add(key)
        value = literal(value)
        self.columns.append(Calc(key, value.text, header or physics.label(key)))
        self._formulas[value.text] = key
        return ref(key, value.na, value.numeric)

    def let(self, key: str, value):
        if isinstance(value, Expr) and value.text == "{" + key + "}":
            return value
        if key[:1] == "r" and key.partition("_")[0][1:].isdigit():
            # a pass of the rate view's speed: a quantity that does not depend on the batch has the
            # formula of a column already there; refer to it rather than compute it again
            same = self._formulas.get(literal(value).text)
            if same is not None:
                return ref(same, literal(value).na, literal(value).numeric)
        return self.add(key, value)


#: The Assumptions sheet's named cells standing for the core's constants.
NAMED_ASSUMPTIONS = defaults.Assumptions(**{f.name: name(f.name) for f in dataclasses.fields(defaults.Assumptions)})
_GROUP = {"models": "m", "hardware": "h", "engines": "e", "precisions": "p"}
_ROW = {"models": "m_row", "hardware": "h_row", "engines": "e_row", "precisions": "p_row"}


def _field_default(group: str, field: str):
    """What an empty catalog cell means: the field's default in the catalog loader, else nothing."""
    from ..catalogs.loader import ApiModel, Engine, Hardware, Model, Precision

    classes = {"models": (Model, ApiModel), "hardware": (Hardware,), "engines": (Engine,),
               "precisions": (Precision,)}[group]
    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.name == field and f.default is not dataclasses.MISSING and f.default is not None:
                return f.default
    return None


class CatalogCells:
    """The physics' :class:`~llmcalc_xl.core.physics.Lookup` for the workbook: catalog cells
    through the defined names of the catalog sheets' columns, at the rows the Calc sheet resolved
    (0: none, NA()); inputs as typed, NA() where empty."""

    is_api = ref("is_api")
    has_hw = ref("has_hw")
    custom_only = ref("custom_only")
    is_cuda = ref("is_cuda")
    on_apple = ref("on_apple")
    pricing_given = ref("pricing_given")
    pricing_owned = ref("pricing_owned")
    pricing_reserved_1y = ref("pricing_reserved_1y")
    pricing_reserved_3y = ref("pricing_reserved_3y")
    pricing_spot = ref("pricing_spot")
    provider_given = ref("provider_given")
    experts_only = ref("experts_only")
    attention_kept = ref("attention_kept")
    autoscale = ref("autoscale_on")
    batch_max = ref("batch_max")
    large_gpu_excluded = ref("large_gpu_excluded")

    def _cell(self, group: str, field: str, row: str, missing=np.nan) -> Symbol:
        cell = call("INDEX", name(f"{_GROUP[group]}_{field}"), ref(row))
        default = _field_default(group, field)
        value = np.where(is_number(cell), cell, np.nan if default is None else float(default))
        return np.where(ref(row) > 0, value, missing)

    def model(self, field):
        return self._cell("models", field, "m_row")

    def hardware(self, field):
        return self._cell("hardware", field, "h_row")

    def engine(self, field, missing=np.nan):
        value = self._cell("engines", field, "e_row", missing)
        fitted = field.removeprefix("apple_")
        if fitted not in CALIBRATED_FIELDS:
            return value
        # an efficiency calibrated for the engine on this device replaces the engine's (and its Apple variant)
        calibrated = call("INDEX", name(f"c_{fitted}"), ref("c_row"))
        return np.where(ref("c_row") > 0, np.where(is_number(calibrated), calibrated, value), value)

    def calibrated(self, field):
        """Whether a calibration sets ``field`` for the row's engine on its device."""
        # IF, not AND: INDEX at row 0 (no calibration) is never evaluated, as in engine() above
        return np.where(ref("c_row") > 0, is_number(call("INDEX", name(f"c_{field}"), ref("c_row"))), False)

    def precision(self, field, missing=np.nan):
        return self._cell("precisions", field, "p_row", missing)

    def kv_precision(self, field):
        return self._cell("precisions", field, "kv_row", 2.0)

    def flag(self, group, field, value):
        return np.where(ref(_ROW[group]) > 0, call("INDEX", name(f"{_GROUP[group]}_{field}"), ref(_ROW[group])) == value,
                        False)

    def yes(self, group, field):
        cell = call("INDEX", name(f"{_GROUP[group]}_{field}"), ref(_ROW[group]))
        default = bool(_field_default(group, field))
        return np.where(ref(_ROW[group]) > 0, np.where(cell == "", default, cell) == True, False)  # noqa: E712

    def option(self, key):
        return np.where(is_number(ref(key)), ref(key), np.nan)

    def offer(self, field):
        cell = call("INDEX", name(f"o_{field}"), ref("o_row"))
        return np.where(ref("o_row") > 0, np.where(is_number(cell), cell, np.nan), np.nan)

    def number(self, key):
        if key == "utilization":  # the Assumptions sheet's cell, which a reader may change
            return np.where(is_number(ref(key)), ref(key), name("utilization"))
        default = BY_NAME[key].default
        assert isinstance(default, (int, float)), key
        return np.where(is_number(ref(key)), ref(key), float(default))


def _resolution(sheet: CalcSheet) -> None:
    """Columns turning the typed names into catalog rows, and the device's kind."""
    _resolved(sheet, "model", "m", "m_id")
    sheet.add("m_row", _row_of("model_id", "m_id"), "Models row (0: none)")
    _resolved(sheet, "hardware", "h", "h_id")
    sheet.add("h_row", _row_of("hardware_id", "h_id"), "Hardware row (0: none)")
    sheet.add("is_api", np.where(ref("m_row") > 0, call("INDEX", name("m_kind"), ref("m_row")) == "api", False),
              "API model?")
    sheet.add("custom_only", (ref("hardware_id") == "") & (is_number(ref("memory_gib")) | is_number(ref("bandwidth_gb_s"))
                                                       | is_number(ref("tflops"))), "Device described by its numbers?")
    sheet.add("has_hw", (ref("h_row") > 0) | ref("custom_only"), "Hardware given?")
    sheet.add("hw_kind", np.where(ref("h_row") > 0, call("INDEX", name("h_kind"), ref("h_row")), "gpu"), "Hardware kind")
    sheet.add("on_apple", ref("hw_kind") == "apple", "Apple GPU?")
    sheet.add("is_cuda", ref("hw_kind") == "gpu", "CUDA-class GPU?")
    # a precision left empty: the quantised checkpoint's (typed as the model), else the model's native one
    implied = sheet.add("checkpoint_precision", call("IFERROR", concat(call("INDEX", name("n_precision"), call(
        "MATCH", _wildcards_escaped(concat("m:", normalized(ref("model")))), name("n_key"), 0)), ""), ""),
        "Precision the checkpoint implies")
    native = sheet.add("native_precision", np.where(ref("m_row") > 0, concat(
        call("INDEX", name("m_native_precision"), ref("m_row")), ""), ""), "Model's native precision")
    _resolved(sheet, "precision", "p", "p_id",
              blank=np.where(implied != "", implied, np.where(native != "", native, name("default_precision"))))
    sheet.add("p_row", _row_of("precision_id", "p_id"), "Precisions row")
    # a checkpoint (or, typed by its id, a model) that ships its routed experts alone in its format,
    # run in that format
    ck_scope = sheet.add("checkpoint_scope", call("IFERROR", concat(call("INDEX", name("n_scope"), call(
        "MATCH", _wildcards_escaped(concat("m:", normalized(ref("model")))), name("n_key"), 0)), ""), ""),
        "What the checkpoint quantises")
    scope = np.where(ref("m_row") > 0, concat(call("INDEX", name("m_native_precision_scope"), ref("m_row")), ""), "")
    shipped: Any = np.where(implied != "", implied, native)  # the precision the typed name ships in
    runs_shipped = sheet.add("runs_shipped", (shipped != "") & (ref("precision_id") == shipped),
                             "Runs in the precision it ships in?")
    shipped_scope = np.where(implied != "", ck_scope, scope)
    sheet.add("experts_only", runs_shipped & (shipped_scope == "experts"), "Precision covers experts only?")
    sheet.add("attention_kept", runs_shipped & (shipped_scope == "all-but-attention"),
              "Precision covers all but attention?")
    gguf = np.where(ref("p_row") > 0, call("INDEX", name("p_family"), ref("p_row")) == "gguf", False)
    local = (ref("hw_kind") == "apple") | (ref("hw_kind") == "cpu") | gguf
    _resolved(sheet, "engine", "e", "e_id", blank=np.where(local, defaults.DEFAULT_LOCAL_ENGINE,
                                                            defaults.DEFAULT_GPU_ENGINE))
    sheet.add("e_row", _row_of("engine_id", "e_id"), "Engines row")
    # the engine's efficiencies calibrated on this device, looked up on the Calibrations sheet by the key
    # the build writes (build.calibration_key)
    key = concat("c:", ref("engine_id"), ":", ref("hardware_id"))
    sheet.add("c_row", np.where((ref("e_row") > 0) & (ref("h_row") > 0),
                                call("IFERROR", call("MATCH", _wildcards_escaped(key), name("c_key"), 0), 0), 0),
              "Calibrations row (0: none)")
    float_kv = (ref("precision_id") == "fp32") | (ref("precision_id") == "bf16")
    # FP8/NVFP4 weights not of the model's own release: a quantised checkpoint whose config asks for an
    # FP8 KV cache, which vLLM, SGLang and TensorRT-LLM follow (engines' kv_cache_follows_checkpoint)
    follows = call("INDEX", name("e_kv_cache_follows_checkpoint"), ref("e_row"))
    kv_fp8 = (((ref("precision_id") == "fp8") | (ref("precision_id") == "fp4")) & (ref("precision_id") != native)
              & np.where(ref("e_row") > 0, np.where(follows == "", False, follows) == True, False))  # noqa: E712
    _resolved(sheet, "kv_precision", "p", "p_id", out="kv_id",
              blank=np.where(float_kv, ref("precision_id"), np.where(kv_fp8, "fp8", "fp16")))
    sheet.add("kv_row", _row_of("kv_id", "p_id"), "KV precisions row")
    sheet.add("gpus_auto", call("ISTEXT", ref("gpus")) & (call("LOWER", call("TRIM", ref("gpus"))) == "auto"),
              "GPUs: auto?")
    sheet.add("batch_max", call("ISTEXT", ref("batch")) & (call("LOWER", call("TRIM", ref("batch"))) == "max"),
              "Batch: max?")
    # vLLM keeps A100s at its smaller default batch cap whatever their memory: the device's name holds the text
    excludes = concat(call("INDEX", name("e_large_gpu_excludes"), ref("e_row")), "")
    sheet.add("large_gpu_excluded", call("IFERROR", np.where((ref("e_row") > 0) & (ref("h_row") > 0), (excludes != "") & is_number(
        call("SEARCH", excludes, call("INDEX", name("h_name"), ref("h_row")))), False), False),
        "Device kept at the engine's smaller batch cap?")
    # the word a choice option names ("" when empty, "auto" or not one of its words), matched as names are:
    # any case, without spaces, hyphens or underscores
    for key, words in CHOICE_OPTIONS.items():
        typed = sheet.add(f"{key}_typed", normalized(ref(key)), f"{key} as matched")
        word: Any = literal("")
        for w in reversed(words):
            word = np.where(typed == normalize(w), w, word)
        sheet.add(f"{key}_word", word, f"{key}")
        sheet.add(f"{key}_given", ref(f"{key}_word") != "", f"{key} given?")
    sheet.add("pricing_owned", ref("pricing_word") == "owned", "Pricing owned?")
    sheet.add("autoscale_on", ref("autoscale_word") == "yes", "Autoscale yes?")
    for word in ("reserved-1y", "reserved-3y", "spot"):
        sheet.add(f"pricing_{word.replace('-', '_')}", ref("pricing_word") == word, f"Pricing {word}?")
    # a named provider: its published price of the tier (on-demand unless a rental tier is given), looked up on
    # the Prices sheet by the key the core uses (catalog.offer_key)
    sheet.add("provider_given", (call("TRIM", ref("provider")) != "") & (normalized(ref("provider")) != "auto"),
              "Provider named?")
    rented = (ref("pricing_word") == "reserved-1y") | (ref("pricing_word") == "reserved-3y") | (ref("pricing_word") == "spot")
    sheet.add("tier", np.where(rented, ref("pricing_word"), "on-demand"), "Price tier")
    key = concat("o:", ref("hardware_id"), ":", normalized(ref("provider")), ":", ref("tier"))
    sheet.add("o_row", np.where(ref("provider_given") & (ref("h_row") > 0),
                                call("IFERROR", call("MATCH", _wildcards_escaped(key), name("o_key"), 0), 0), 0),
              "Prices row (0: none)")


def _row_of(id_key: str, ids: str) -> Symbol:
    return np.where(ref(id_key) == "", 0, call("MATCH", ref(id_key), name(ids), 0))


def _wildcards_escaped(x) -> Expr:
    """MATCH treats * ? ~ as wildcards: escape them so typed text matches only itself."""
    return call("SUBSTITUTE", call("SUBSTITUTE", call("SUBSTITUTE", x, "~", "~~"), "*", "~*"), "?", "~?")


def normalized(x) -> Expr:
    """The spreadsheet form of ``catalog.normalize``: lower case, no spaces, hyphens or underscores."""
    return call("LOWER", call("SUBSTITUTE", call("SUBSTITUTE", call("SUBSTITUTE", call("TRIM", x), " ", ""), "-", ""),
                              "_", ""))


def _resolved(sheet: CalcSheet, key: str, group: str, ids: str, blank=None, out: str | None = None) -> None:
    """Columns turning a typed name into its catalog id ("" when unknown): the catalog's ids and
    aliases in any case or spacing (the Names sheet), then ids of rows a user added to the
    catalog sheet. An empty cell (or "auto") takes ``blank``."""
    out = out or f"{key}_id"
    typed = ref(key)
    is_blank = (call("TRIM", typed) == "") | (call("LOWER", call("TRIM", typed)) == "auto")
    added = call("IFERROR", call("INDEX", name(ids), call("MATCH", _wildcards_escaped(call("TRIM", typed)), name(ids), 0)),
                 "")
    key_text = Expr(f'"{group}:"&{normalized(typed).text}')
    found = call("IFERROR", call("INDEX", name("n_id"), call("MATCH", _wildcards_escaped(key_text), name("n_key"), 0)),
                 added)
    if blank is None:
        sheet.add(out, np.where(is_blank, "", found), f"{key} id")
        return
    given_ = sheet.add(f"{out}_given", ~is_blank, f"{key} given?")
    sheet.add(out, np.where(given_, found, blank), f"{key} id")


def columns() -> list[Calc]:
    """Every Calc column, in an order where each uses only those before it."""
    return calc_sheet()[0]


def calc_sheet() -> tuple[list[Calc], dict[str, str]]:
    """The Calc columns and each output's formula template. The catalog rows of the typed names
    first, then the core's physics (``core/physics.py``) called on the cells, then the Check
    column's parts. Outputs are NA() where they do not apply."""
    sheet = CalcSheet()
    _resolution(sheet)
    c = NAMED_ASSUMPTIONS
    s = physics.scenario(CatalogCells(), sheet.let, c)
    w = physics.weights(s, sheet.let, c)
    h = physics.held(s, sheet.let)
    # the fewest GPUs that fit: one column per count, then the first that holds the workload
    for g in GPU_CANDIDATES:
        allowed = True if g in defaults.TENSOR_GPU_COUNTS else ~s.tensor
        sheet.add(f"fits_{g}", allowed & physics.fits(physics.memory_at(s, w, h, float(g), physics.keep, c)),
                  f"Fits on {g} GPUs?")
    needed = sheet.add("gpus_needed_n", call("INDEX", name("gpu_candidates"),
                                             call("MATCH", True, ref("fits_range"), 0)), "Fewest GPUs that fit")
    gpus = sheet.add("gpus_in", np.where(ref("gpus_auto"), needed, CatalogCells().number("gpus")), "GPUs")
    # batch "max": the largest batch that fits on those GPUs, capped by the engine's own maximum
    base = physics.per_sequence(s, w, h, gpus, sheet.let, c)
    max_batch = physics.largest_batch(s, w, base, sheet.let, c)
    s = physics.serving(s, max_batch, sheet.let)
    m = physics.memory_at(s, w, h, gpus, sheet.let, c, base=base)
    sheet.add("no_fit", s.has_hw & ~s.is_api & ~physics.fits(m), "Does not fit (cannot run)?")
    sp = physics.speed(s, w, m, gpus, sheet.let, c)
    co = physics.costs(s, sp, gpus, sheet.let, c)
    r = physics.at_rate(s, w, m, gpus, sp, sheet.let, c)
    band = physics.bands(s, sp, co, gpus, sheet.let, c)
    outputs = {k: literal(v).text for k, v in physics.outputs(s, w, m, max_batch, needed, sp, co, r, band).items()}
    checks = _input_checks() + _combination_checks()
    groups = [checks[i:i + CHECKS_PER_COLUMN] for i in range(0, len(checks), CHECKS_PER_COLUMN)]
    for i, group in enumerate(groups):
        sheet.add(f"problems_{i}", _problems(group), "Problems found")
    sheet.add("problems", call("TRIM", concat(*(ref(f"problems_{i}") for i in range(len(groups))))),
              "What is wrong with the inputs")
    sheet.add("notes", _retirement_note(), "Notes")
    return sheet.columns, outputs


def _retirement_note() -> Expr:
    """A model its provider retired on or before the quote's date: still priced (at its last published
    price), and said so with its successor. ISO dates compare as text."""
    retires = concat(call("INDEX", name("m_retires"), ref("m_row")), "")
    successor = concat(call("INDEX", name("m_successor"), ref("m_row")), "")
    retired = ref("is_api") & (retires != "") & (retires <= name("quote_date"))
    text = concat("Note: '", ref("model_id"), "' was retired on ", retires, "; the cost uses its last published price.",
                  np.where(successor != "", concat(" Successor: '", successor, "'."), ""))
    return call("IFERROR", np.where(retired, text, ""), "")


#: Scenario outputs: key (as in estimate --json), header, number format.
OUTPUTS = (
    ("weights_gib", "Weights GiB", "0.00"),
    ("kv_cache_gib", "KV cache GiB", "0.00"),
    ("activations_gib", "Activations GiB", "0.00"),
    ("overhead_gib", "Overhead GiB", "0.00"),
    ("total_memory_gib", "Total memory GiB", "0.00"),
    ("usable_memory_gib", "Usable memory GiB", "0.00"),
    ("fits", "Fits?", "General"),
    ("gpus_needed", "GPUs needed", "0"),
    ("max_batch", "Largest batch", "#,##0"),
    ("ttft_s", "TTFT s", "0.000"),
    ("tpot_s", "TPOT s", "0.0000"),
    ("latency_s", "Latency s", "0.00"),
    ("prefill_tokens_per_s", "Prefill tokens/s", "#,##0"),
    ("decode_tokens_per_s", "Decode tokens/s", "#,##0.0"),
    ("throughput_tokens_per_s", "Throughput tokens/s", "#,##0"),
    ("token_cost_usd", "API tokens USD", "$#,##0.000000"),
    ("infra_cost_usd", "GPU time USD", "$#,##0.000000"),
    ("cost_per_request_usd", "Cost per request USD", "$#,##0.000000"),
    ("cost_per_mtok_usd", "USD per million output tokens", "$#,##0.00"),
    ("deployment_usd_per_month", "Deployment USD a month", "$#,##0.00"),
    ("capacity_requests_per_month", "Capacity, requests a month", "#,##0"),
    ("replicas_needed", "Replicas", "0"),
    ("average_replicas", "Replicas paid on average", "0.00"),
    ("monthly_cost_usd", "Monthly cost USD", "$#,##0.00"),
    ("effective_cost_per_request_usd", "Effective cost per request USD", "$#,##0.000000"),
    ("rented_monthly_cost_usd", "Rented fleet USD a month", "$#,##0.00"),
    ("owned_monthly_cost_usd", "Owned fleet USD a month", "$#,##0.00"),
    # the request-rate view (requests_per_s given): one deployment, arrivals at random
    ("served_requests_per_s", "Requests/s served (all slots busy)", "0.000"),
    ("utilization_at_rate", "Utilisation at the rate", "0.0%"),
    ("concurrency_at_rate", "Requests in flight at the rate", "0.00"),
    ("queue_wait_s", "Queue wait s (mean)", "0.000"),
    ("ttft_at_rate_s", "TTFT at the rate s (mean)", "0.000"),
    ("ttft_at_rate_p90_s", "TTFT at the rate, p90 s", "0.000"),
    ("ttft_at_rate_p99_s", "TTFT at the rate, p99 s", "0.000"),
    ("tpot_at_rate_s", "TPOT at the rate s (mean)", "0.0000"),
    ("tpot_at_rate_p90_s", "TPOT at the rate, p90 s", "0.0000"),
    ("tpot_at_rate_p99_s", "TPOT at the rate, p99 s", "0.0000"),
    # error bands (physics.bands): the range 8 in 10 measurements fall in
    ("ttft_s_p10", "TTFT s, P10", "0.000"),
    ("ttft_s_p90", "TTFT s, P90", "0.000"),
    ("tpot_s_p10", "TPOT s, P10", "0.0000"),
    ("tpot_s_p90", "TPOT s, P90", "0.0000"),
    ("throughput_tokens_per_s_p10", "Throughput tokens/s, P10", "#,##0"),
    ("throughput_tokens_per_s_p90", "Throughput tokens/s, P90", "#,##0"),
    ("cost_per_mtok_usd_p10", "USD per million output tokens, P10 (fast side)", "$#,##0.00"),
    ("cost_per_mtok_usd_p90", "USD per million output tokens, P90 (slow side)", "$#,##0.00"),
    ("monthly_cost_usd_p10", "Monthly cost USD, P10 (fast side)", "$#,##0.00"),
    ("monthly_cost_usd_p90", "Monthly cost USD, P90 (slow side)", "$#,##0.00"),
)
OUTPUT_KEYS = tuple(k for k, *_ in OUTPUTS)


def _typed(key: str) -> Expr:
    """The text a user typed, cut short for a message."""
    return concat("'", call("LEFT", call("TRIM", ref(key)), 40), "'")


def _filled(key: str) -> Expr:
    return call("TRIM", ref(key)) != ""


def _input_checks() -> list[tuple[Expr, Expr]]:
    """(condition, message) for each rule the core applies to one input, generated from its
    option table so that the workbook refuses what the core refuses."""
    checks: list[tuple[Expr, Expr]] = []
    sheet = {"model": "Models", "hardware": "Hardware", "precision": "Precisions", "engine": "Engines",
             "kv_precision": "Precisions"}
    given = {"model": _filled("model"),
             "hardware": _filled("hardware") & (call("LOWER", call("TRIM", ref("hardware"))) != "auto"),
             "precision": ref("precision_id_given"), "engine": ref("engine_id_given"),
             "kv_precision": ref("kv_id_given")}
    rows = {"model": "m_row", "hardware": "h_row", "precision": "p_row", "engine": "e_row", "kv_precision": "kv_row"}
    for key in CATALOG_OPTIONS:
        checks.append((given[key] & (ref(rows[key]) == 0),
                       concat(f"Unknown {key.replace('_', ' ')} ", _typed(key),
                              f": pick one from the {sheet[key]} sheet. ")))
    for key, words in CHOICE_OPTIONS.items():
        rule = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
        checks.append(((ref(f"{key}_typed") != "") & (ref(f"{key}_typed") != "auto") & (ref(f"{key}_word") == ""),
                       concat(f"{key} ", _typed(key), f" must be {rule}. ")))
    checks.append((~ref("precision_id_given") & (ref("p_row") == 0),
                   literal("Unknown default_precision on the Assumptions sheet. ")))
    for option in (o for o in OPTIONS if o.kind == "number"):
        key, rules = option.name, option.rule
        cell = ref(key)
        not_number = _filled(key) & ~is_number(cell)
        if key == "gpus":
            not_number = not_number & ~ref("gpus_auto")
        if key == "batch":
            not_number = not_number & ~ref("batch_max")
        word = f" or {option.word}" if option.word else ""
        checks.append((not_number, concat(f"{key} must be a number{word}, got ", _typed(key), ". ")))
        number = is_number(cell)
        if rules.get("minimum") is not None:
            checks.append((number & (cell < rules["minimum"]), literal(f"{key} must be >= {rules['minimum']:g}. ")))
        if rules.get("above") is not None:
            checks.append((number & (cell <= rules["above"]), literal(f"{key} must be > {rules['above']:g}. ")))
        if rules.get("maximum") is not None:
            checks.append((number & (cell > rules["maximum"]), literal(f"{key} must be <= {rules['maximum']:g}. ")))
        if rules.get("whole"):
            checks.append((number & (cell != np.floor(cell)), literal(f"{key} must be a whole number. ")))
    return checks


def _in_list(item, listed) -> Expr:
    """Whether a catalog cell's list (text separated by ; or spaces) names the item."""
    return is_number(call("SEARCH", item, listed))


def _combination_checks() -> list[tuple[Expr, Expr]]:
    """(condition, message) for the rules across inputs (the core's, in its words)."""
    runs = ~ref("is_api") & (ref("h_row") > 0) & (ref("e_row") > 0)
    context_length = call("INDEX", name("m_context_length"), ref("m_row"))
    engine = {k: call("INDEX", name(f"e_{k}"), ref("e_row")) for k in ("hardware_kinds", "vendors", "precisions")}
    precisions = concat(";", call("SUBSTITUTE", engine["precisions"], " ", ""), ";")
    # the parallel layout (the core's _check_layout), where tp, dp or ep is given
    tp_given, dp_given, ep_given = (is_number(ref(k)) for k in ("tp", "dp", "ep"))
    layout = ~ref("is_api") & (tp_given | dp_given | ep_given)
    sized = layout & ~ref("gpus_auto")
    tp, gpus, ep = ref("attn_tp"), ref("gpus_in"), ref("ep_groups")

    def divides(d, x):  # x / d whole (the stored values' evaluator knows INT, not MOD)
        return x / d == np.floor(x / d)

    layout_checks = [
        (layout & ref("gpus_auto"), "gpus auto takes no layout: give gpus = tp x dp as a count. "),
        (sized & tp_given & (ref("tp") * ref("dp_ranks") != gpus), "tp x dp must equal gpus. "),
        (sized & ~tp_given & ~divides(ref("dp_ranks"), gpus), "dp must divide gpus. "),
        (sized & ~ref("tensor") & ((np.where(tp_given, ref("tp"), 1.0) > 1) | (ref("dp_ranks") > 1) | (ep > 1)),
         "tp, dp and ep split tensors: use vllm, sglang or tensorrt-llm. "),
        (sized & ref("tensor") & (ref("heads") > 0) & ~divides(tp, ref("heads")),
         "tp must divide the model's attention heads. "),
        (sized & ref("tensor") & ~(ref("lora") > 0) & (ref("kv_heads") > 0) & ~divides(tp, ref("kv_heads"))
         & ~divides(ref("kv_heads"), tp), "tp and the model's KV heads: one must divide the other. "),
        (layout & (ep > 1) & ~(ref("experts") > 0), "ep needs a mixture-of-experts model: leave ep empty or 1. "),
        (layout & (ep > 1) & (ref("experts") > 0) & ~divides(ep, ref("experts")),
         "ep must divide the model's routed experts. "),
        (sized & (ep > 1) & ~divides(ep, gpus), "ep must divide gpus. "),
    ]
    return [(cond, literal(msg)) for cond, msg in layout_checks] + [
        (ref("cached") > ref("prompt"), literal("cached_input_tokens must be <= input_tokens. ")),
        (is_number(ref("context_tokens")) & (ref("context") < ref("prompt") + ref("output")),
         literal("context_tokens must hold input_tokens + output_tokens. ")),
        ((ref("m_row") > 0) & is_number(context_length)
         & (np.maximum(ref("context"), ref("prompt") + ref("output")) > context_length),
         literal("Context longer than the model's context length: use fewer input/output tokens. ")),
        (ref("custom_only") & ~(is_number(ref("memory_gib")) & is_number(ref("bandwidth_gb_s"))
                                & is_number(ref("tflops"))),
         literal("A device not in the catalog needs memory_gib, bandwidth_gb_s and tflops together. ")),
        (~ref("is_api") & (ref("kv_row") > 0) & (ref("kv_bytes") <= 0),
         literal("This KV precision cannot hold a KV cache: use fp16 or fp8. ")),
        (runs & ~_in_list(ref("hw_kind"), engine["hardware_kinds"]),
         literal("The engine does not run on this hardware: use llama.cpp. ")),
        (runs & (engine["vendors"] != "") & (ref("hw_kind") == "gpu")
         & ~_in_list(call("INDEX", name("h_vendor"), ref("h_row")), engine["vendors"]),
         literal("The engine does not run on this GPU vendor: use vllm or llama.cpp. ")),
        (~ref("is_api") & (ref("e_row") > 0) & (ref("p_row") > 0) & (engine["precisions"] != "")
         & ~_in_list(concat(";", ref("precision_id"), ";"), precisions),
         literal("The engine does not run this precision. ")),
        (ref("gpus_auto") & ~ref("is_api") & ref("has_hw") & ~is_number(ref("gpus_needed_n")),
         literal(f"gpus auto: no GPU count up to {max(GPU_CANDIDATES)} holds this workload. ")),
        (ref("provider_given") & ~ref("pricing_owned") & (ref("o_row") == 0),
         concat("No price from provider ", _typed("provider"), " for this hardware and tier: see the Prices sheet. ")),
        (ref("autoscale_on") & (ref("peak_ratio") * ref("peak_hours") > 24.0),
         literal("autoscale: peak_to_average x peak_hours_per_day must be at most 24 (the day's traffic). ")),
        (ref("has_hw") & ref("owned") & ~is_number(ref("price_per_hour")) & ~is_number(ref("capex")),
         literal("pricing owned needs capex_usd_per_gpu: the hardware has no purchase price in the catalog. ")),
        (ref("has_hw") & ref("owned") & ~is_number(ref("price_per_hour")) & ~is_number(ref("power_w")),
         literal("pricing owned needs power_w_per_gpu: the hardware has no power draw (TDP) in the catalog. ")),
        (ref("rate_given") & ~ref("no_fit") & (ref("rate_rho") >= 1.0),
         concat("requests_per_s: arrivals of ", call("ROUND", ref("requests_per_s"), 3), "/s exceed the ",
                call("ROUND", ref("rate_served"), 3), "/s this deployment serves. Add replicas (plan) or lower "
                "requests_per_s. ")),
    ]


def _problems(checks: list[tuple[Symbol, Symbol]]) -> Symbol:
    """Every failing check's message, one after another ("" when all pass). A check that cannot
    be evaluated (its inputs are unusable, another message says why) does not fire."""
    return concat(*(np.where(call("IFERROR", cond, False), msg, "") for cond, msg in checks))


#: The row's Check cell: what is wrong with its inputs (the outputs stay empty while anything is), then
#: notes that do not stop the estimate (a retired model). Empty when there is nothing to say.
def check_formula() -> str:
    return literal(np.where(~_filled("model"), "", call("TRIM", concat(ref("problems"), " ", ref("notes"))))).text


#: Checks per Calc column: keeps each formula far below Excel's 8,192 characters.
CHECKS_PER_COLUMN = 8
CHECK = check_formula()
