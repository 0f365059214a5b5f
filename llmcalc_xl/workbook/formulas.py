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

from dataclasses import dataclass

from ..core import defaults
from ..units import BYTES_PER_GB, TERA


def _blank_means(group: str, field: str, looked_up: str) -> str:
    """A catalog cell as the core reads its entry: an empty cell (a row a user added on a
    catalog sheet and left incomplete) takes the field's default, as the catalog loader would."""
    import dataclasses

    from ..catalogs.loader import ApiModel, Engine, Hardware, Model, Precision

    classes = {"m": (Model, ApiModel), "h": (Hardware,), "e": (Engine,), "p": (Precision,)}[group]
    defaults_ = {f.name: f.default for cls in classes for f in dataclasses.fields(cls)}
    default = defaults_.get(field, dataclasses.MISSING)
    if default is True:
        return f'IF({looked_up}="",TRUE,{looked_up})'
    if isinstance(default, (int, float)) and not isinstance(default, bool) and default != 0:
        return f"IF(ISNUMBER({looked_up}),{looked_up},{default:g})"
    return looked_up


def M(field: str) -> str:
    return _blank_means("m", field, f"INDEX(m_{field},{{m_row}})")


def H(field: str) -> str:
    """Empty text on a row without hardware: INDEX(range,0) would be the whole column, which engines
    treat differently (Excel and LibreOffice intersect it with the row, Gnumeric gives #REF!)."""
    return f'IF({{h_row}}>0,{_blank_means("h", field, f"INDEX(h_{field},{{h_row}})")},"")'


def num(x: str) -> str:
    """x as a number, 0 where it is empty or text: what N(x) does, but N() of an empty cell is #NUM! in Gnumeric."""
    return f"IF(ISNUMBER({x}),{x},0)"


def E(field: str) -> str:
    return _blank_means("e", field, f"INDEX(e_{field},{{e_row}})")


def P(field: str, row: str = "p_row") -> str:
    return _blank_means("p", field, f"INDEX(p_{field},{{{row}}})")


@dataclass(frozen=True)
class Calc:
    key: str
    formula: str           # template without "="
    header: str = ""
    fmt: str = "General"
    guard: bool = True     # wrap in IFERROR(..., 0): rows that do not apply compute 0, never an error


#: Scenario inputs (Scenarios sheet), in column order: key, header, what an empty cell means
#: (a number: that default; text: said as is; None: nothing, or the catalog's value). Every
#: option of the core has a column (a test walks the core's option list).
INPUTS = (
    ("scenario", "Scenario", None),
    ("model", "Model", None),
    ("hardware", "Hardware", None),
    ("gpus", "GPUs", f"{defaults.DEFAULT_GPUS}; auto: fewest that fit"),
    ("precision", "Precision", "default"),
    ("engine", "Engine", "auto"),
    ("input_tokens", "Input tokens", defaults.DEFAULT_INPUT_TOKENS),
    ("cached_input_tokens", "Cached input tokens", 0),
    ("output_tokens", "Output tokens", defaults.DEFAULT_OUTPUT_TOKENS),
    ("batch", "Batch (sequences at once)", defaults.DEFAULT_BATCH),
    ("requests_per_month", "Requests per month", None),
    ("utilization", "Utilization 0-1", "default"),
    ("context_tokens", "Context tokens", "in + out"),
    ("kv_precision", "KV precision", "auto"),
    ("latency_s", "Latency s", "estimate"),
    ("price_per_hour", "USD per GPU-hour", "catalog"),
    # device and engine overrides: right of the results, for fitting to a measurement
    ("memory_gib", "Memory GiB per GPU", "catalog"),
    ("bandwidth_gb_s", "Bandwidth GB/s", "catalog"),
    ("tflops", "Dense TFLOPS", "catalog"),
    ("memory_fraction", "Memory fraction", "engine"),
    ("overhead_gib", "Engine overhead GiB per GPU", "engine"),
    ("prefill_mfu", "Prefill MFU", "engine"),
    ("decode_mfu", "Decode MFU", "engine"),
    ("decode_mbu", "Decode MBU", "engine"),
    ("prefill_overhead_s", "Prefill fixed s", "engine"),
    ("decode_step_overhead_s", "Decode step fixed s", "engine"),
)
#: Inputs placed right of the results (device and engine overrides).
ADVANCED_INPUTS = ("memory_gib", "bandwidth_gb_s", "tflops", "memory_fraction", "overhead_gib", "prefill_mfu",
                   "decode_mfu", "decode_mbu", "prefill_overhead_s", "decode_step_overhead_s")
#: Text inputs matched against the catalogs (ids, aliases, any case or spacing).
TEXT_INPUTS = ("model", "hardware", "precision", "engine", "kv_precision")
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
    ("allreduce_latency_s", defaults.ALLREDUCE_LATENCY_S, "s", "nccl-tests small-message latency, 5-10 us"),
    ("default_link_gb_s", defaults.DEFAULT_LINK_GB_S, "GB/s", "PCIe 4.0 x16, one direction"),
)

#: GPU counts tried for "GPUs needed" (tensor parallelism only takes the powers of two).
GPU_CANDIDATES = tuple(sorted(set(defaults.TENSOR_GPU_COUNTS) | set(defaults.LAYER_GPU_COUNTS)))

GIB = "1073741824"


def _act_factor(tp: str) -> str:
    return (f"IF({{is_moe}},IF({tp}<=1,act_moe_tp1,IF({tp}<=2,act_moe_tp2,IF({tp}<=4,act_moe_tp4,act_moe_tp8))),"
            f"IF({tp}<=1,act_dense_tp1,IF({tp}<=2,act_dense_tp2,IF({tp}<=4,act_dense_tp4,act_dense_tp8))))")


def _comm(tokens: str) -> str:
    """All-reduces under tensor parallelism; activation hops between GPUs under layer splitting."""
    message = f"({tokens})*{{hidden}}*activation_bytes"
    return (f"IF({{tensor}},IF({{tp}}>1,2*{{layers}}*(2*({{tp}}-1)/{{tp}}*{message}/{{link}}+allreduce_latency_s),0),"
            f"MAX({{gpus_in}}-1,0)*({message}/{{link}}+allreduce_latency_s))")


def _touched(tokens: str) -> str:
    """Share of the routed experts that tokens touch, 1-(1-share)^tokens. Where that power is
    below 1E-17 the share is 1 exactly; LibreOffice gives #NUM! when the power underflows (Excel
    gives 0), so it is not computed there."""
    return f"IF({{expert_share}}*{tokens}>40,1,1-(1-{{expert_share}})^{tokens})"


def _prefill(n: str) -> list[Calc]:
    """Prefill of n prompts (n = "1" or "{batch}"): columns suffixed _1 or _b."""
    s = "1" if n == "1" else "b"
    tokens = f"pf_tokens_{s}"
    rows = f"pf_rows_{s}"
    return [
        Calc(tokens, f"{n}*{{prompt}}", f"Prefill tokens ({'one prompt' if s == '1' else 'batch'})"),
        Calc(rows, f"MAX(MIN({{{tokens}}},{{max_tokens}}),1)", "Tokens per matrix product"),
        Calc(f"pf_compute_{s}",
             f"({n}*(2*({{linear}}-{{expert_linear}})*{{prompt}}+{{attn_flops_prompt}}+{{head_flops}}))"
             f"/({{flops_eff}}*{{mfu_prefill}}*({{{rows}}}/({{{rows}}}+{{half_tokens}})))"
             f"+({n}*2*{{expert_linear}}*{{prompt}})/({{flops_eff}}*{{mfu_prefill}}"
             f"*(MAX({{{rows}}}*{{expert_share}},1)/(MAX({{{rows}}}*{{expert_share}},1)+{{half_tokens}})))",
             "Prefill arithmetic s"),
        Calc(f"pf_moved_{s}",
             f"{{dense_read}}+{{expert_bytes}}*IF({{experts}}>0,{_touched('{' + tokens + '}')},0)"
             f"+{{{tokens}}}*{{kv_token_all_layers}}", "Prefill bytes moved"),
        Calc(f"pf_dequant_{s}",
             f"IF({{dequantizes}},ROUNDUP(MAX({{{tokens}}},1)/{{max_tokens}},0)*({{params}}-{{emb}})*4"
             f"/({{bw_eff}}*{{mbu_decode}}),0)", "GGUF dequantisation s"),
        Calc(f"prefill_s_{s}",
             f"MAX({{pf_compute_{s}}},{{pf_moved_{s}}}/({{bw_eff}}*{{mbu_decode}}))+{{pf_dequant_{s}}}"
             f"+{_comm('{' + tokens + '}')}+{{prefill_fixed}}", f"Prefill s ({'one prompt' if s == '1' else 'batch'})"),
    ]


def _fits_at(g: int) -> str:
    """TRUE when the workload fits g GPUs (the memory of memory_at(g) in the core)."""
    tp = f"IF({{tensor}},{g},1)"
    heads = f"ROUNDUP({{kv_heads}}/{tp},0)*{tp}"
    ptl = f"IF({{lora}}>0,({{lora}}+{{rope}})*{{kv_bytes}}*{tp},2*{heads}*{{head_dim}}*{{kv_bytes}})"
    kv_seq = f"{ptl}*(({{layers}}-{{swa_layers}})*{{full_held}}+{{swa_layers}}*{{win_held}})"
    act = (f"{tp}*activation_bytes*{{pass_tokens}}*{{heads}}*{{head_dim}}*{_act_factor(tp)}"
           f"+{{batch_in}}*{{vocab}}*logit_bytes")
    ovh = (f"{g}*({{engine_overhead}}+IF({{is_cuda}},cuda_context_gib,0)"
           f"+IF(AND({{tensor}},{g}>1),nccl_buffers_gib,0))*{GIB}")
    device = f"{g}*{{mem_gib}}*{GIB}*{{mem_fraction}}"
    static = f"({{weights}}+({act})+({ovh}))"
    usable = f"IF({{rule_free}},{static}+{{fraction}}*MAX({device}-{static},0),{{fraction}}*{device})"
    allowed = "TRUE" if g in defaults.TENSOR_GPU_COUNTS else "NOT({tensor})"
    return f"AND({allowed},{static}+{{batch_in}}*({kv_seq})<={usable})"



def _override(key: str, catalog_value: str) -> str:
    """A scenario's own number where given, else the catalog's."""
    return f"IF(ISNUMBER({{{key}}}),{{{key}}},{catalog_value})"


def _by_compute() -> str:
    """Dense TFLOPS at the precision's compute type; the 16-bit rate where the device has none."""
    formula = "{tflops_fp16}"
    for compute in ("fp4", "int8", "fp8", "fp32"):
        rate = H(f"tflops_{compute}")
        formula = f'IF({{compute}}="{compute}",IF({num(rate)}>0,{rate},{{tflops_fp16}}),{formula})'
    return formula


def _number(key: str) -> str:
    """A number input: the cell where it holds a number, else the core's default."""
    from ..core.estimate import NUMBER_OPTIONS

    return f"IF(ISNUMBER({{{key}}}),{{{key}}},{NUMBER_OPTIONS[key]['default']:g})"


def _wildcards_escaped(x: str) -> str:
    """MATCH treats * ? ~ as wildcards: escape them so typed text matches only itself."""
    return f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE({x},"~","~~"),"*","~*"),"?","~?")'


def normalized(x: str) -> str:
    """The spreadsheet form of ``catalog.normalize``: lower case, no spaces, hyphens or underscores."""
    return f'LOWER(SUBSTITUTE(SUBSTITUTE(SUBSTITUTE(TRIM({x})," ",""),"-",""),"_",""))'


def _resolved(key: str, group: str, ids: str, blank: str | None = None, out: str | None = None) -> list[Calc]:
    """Columns turning a typed name into its catalog id ("" when unknown): the catalog's ids and
    aliases in any case or spacing (the Names sheet), then ids of rows a user added to the
    catalog sheet. An empty cell (or "auto") takes ``blank``."""
    out = out or f"{key}_id"
    typed = f"{{{key}}}"
    is_blank = f'OR(TRIM({typed})="",LOWER(TRIM({typed}))="auto")'
    found = (f'IFERROR(INDEX(n_id,MATCH("{group}:"&{_wildcards_escaped(normalized(typed))},n_key,0)),'
             f'IFERROR(INDEX({ids},MATCH({_wildcards_escaped(f"TRIM({typed})")},{ids},0)),""))')
    if blank is None:
        return [Calc(out, f'IF({is_blank},"",{found})', f"{key} id")]
    return [Calc(f"{out}_given", f'NOT({is_blank})', f"{key} given?"),
            Calc(out, f'IF({{{out}_given}},{found},{blank})', f"{key} id")]

def columns() -> list[Calc]:
    """Every Calc column, in an order where each uses only those before it."""
    cols = [
        # --- which rows of the catalog tables: ids, aliases and names in any case or spacing -------
        *_resolved("model", "m", "m_id"),
        Calc("m_row", 'IF({model_id}="",0,MATCH({model_id},m_id,0))', "Models row (0: none)"),
        *_resolved("hardware", "h", "h_id"),
        Calc("h_row", 'IF({hardware_id}="",0,MATCH({hardware_id},h_id,0))', "Hardware row (0: none)"),
        Calc("is_api", f'IF({{m_row}}>0,{M("kind")}="api",FALSE)', "API model?"),
        Calc("custom_hw", 'AND({hardware_id}="",OR(ISNUMBER({memory_gib}),ISNUMBER({bandwidth_gb_s}),'
                          'ISNUMBER({tflops})))', "Device described by its numbers?"),
        Calc("has_hw", "OR({h_row}>0,{custom_hw})", "Hardware given?"),
        Calc("hw_kind", f'IF({{h_row}}>0,{H("kind")},"gpu")', "Hardware kind"),
        *_resolved("precision", "p", "p_id", blank="default_precision"),
        Calc("p_row", 'IF({precision_id}="",0,MATCH({precision_id},p_id,0))', "Precisions row"),
        *_resolved("engine", "e", "e_id",
                   blank=f'IF(OR({{hw_kind}}="apple",{{hw_kind}}="cpu",{P("family")}="gguf"),'
                         f'"{defaults.DEFAULT_LOCAL_ENGINE}","{defaults.DEFAULT_GPU_ENGINE}")'),
        Calc("e_row", 'IF({engine_id}="",0,MATCH({engine_id},e_id,0))', "Engines row"),
        *_resolved("kv_precision", "p", "p_id", out="kv_id",
                   blank='IF(OR({precision_id}="fp32",{precision_id}="bf16"),{precision_id},"fp16")'),
        Calc("kv_row", 'IF({kv_id}="",0,MATCH({kv_id},p_id,0))', "KV precisions row"),
        Calc("kv_bytes", P("kv_bytes", "kv_row"), "KV bytes per value"),
        # --- workload (an empty cell takes the default; text in a number cell is a Check error) ---
        Calc("batch_in", _number("batch"), "Batch"),
        Calc("prompt", _number("input_tokens"), "Input tokens"),
        Calc("cached", _number("cached_input_tokens"), "Cached input tokens"),
        Calc("output", _number("output_tokens"), "Output tokens"),
        Calc("context", 'IF(ISNUMBER({context_tokens}),{context_tokens},{prompt}+{output})', "Context tokens"),
        Calc("util", "IF(ISNUMBER({utilization}),{utilization},utilization)", "Utilization"),
        Calc("gpus_auto", 'AND(ISTEXT({gpus}),LOWER(TRIM({gpus}))="auto")', "GPUs: auto?"),
        # --- model -----------------------------------------------------------------------------------
        Calc("params", f"{M('params_b')}*1E9", "Parameters"),
        Calc("active", f"{M('active_params_b')}*1E9", "Active parameters"),
        Calc("layers", M("layers"), "Layers"),
        Calc("hidden", M("hidden_size"), "Hidden size"),
        Calc("heads", M("heads"), "Query heads"),
        Calc("kv_heads", M("kv_heads"), "KV heads"),
        Calc("head_dim", M("head_dim"), "Head dim"),
        Calc("vocab", M("vocab_size"), "Vocabulary"),
        Calc("tie", f"{M('tie_embeddings')}=TRUE", "Tied embeddings?"),
        Calc("experts", M("experts"), "Routed experts"),
        Calc("k_active", M("experts_per_token"), "Experts per token"),
        Calc("shared_experts", M("shared_experts"), "Shared experts"),
        Calc("window", M("sliding_window"), "Sliding window tokens"),
        Calc("window_layers", M("sliding_window_layers"), "Sliding-window layers"),
        Calc("lora", M("kv_lora_rank"), "MLA kv_lora_rank"),
        Calc("rope", M("qk_rope_head_dim"), "MLA rope dim"),
        Calc("ffn", M("intermediate_size"), "Intermediate size"),
        Calc("is_moe", "{experts}>0", "MoE?"),
        # --- precision ---------------------------------------------------------------------------
        Calc("bits", P("bits_per_weight"), "Bits per weight"),
        Calc("emb_bits", P("embedding_bits"), "Embedding bits"),
        Calc("out_bits", P("output_bits"), "Output bits"),
        Calc("v_bits", f'IF(AND({{heads}}>=4*{{kv_heads}},{P("attn_v_bits_gqa4")}<>""),{P("attn_v_bits_gqa4")},'
                       f'IF({P("attn_v_bits")}="",{{bits}},{P("attn_v_bits")}))', "attn_v bits"),
        Calc("down_bits", f'IF({P("ffn_down_bits")}="",{{bits}},{P("ffn_down_bits")})', "ffn_down bits"),
        Calc("o_bits", f'IF({P("attn_output_bits")}="",{{bits}},{P("attn_output_bits")})', "attn_output bits"),
        Calc("up_share", f'IF({P("upgraded_layer_share")}="",1,{P("upgraded_layer_share")})', "Upgraded layer share"),
        # --- engine ----------------------------------------------------------------------------------
        Calc("tensor", f'{E("parallelism")}="tensor"', "Tensor parallel?"),
        Calc("rule_free", f'{E("memory_rule")}="fraction_of_free"', "KV from free memory?"),
        Calc("fraction", _override("memory_fraction", E("memory_fraction")), "Memory fraction"),
        Calc("block", E("kv_block_tokens"), "KV block tokens"),
        Calc("max_tokens", E("max_batched_tokens"), "Max batched tokens"),
        Calc("engine_overhead", _override("overhead_gib", E("overhead_gib")), "Engine overhead GiB/GPU"),
        Calc("window_saves", f"{E('sliding_window_saves_memory')}=TRUE", "Window frees memory?"),
        Calc("on_apple", '{hw_kind}="apple"', "Apple GPU?"),
        Calc("mfu_prefill", _override("prefill_mfu", f'IF(AND({{on_apple}},ISNUMBER({E("apple_prefill_mfu")})),'
                                                     f'{E("apple_prefill_mfu")},{E("prefill_mfu")})'), "Prefill MFU"),
        Calc("mfu_decode", _override("decode_mfu", E("decode_mfu")), "Decode MFU"),
        Calc("mbu_decode", _override("decode_mbu", f'IF(AND({{on_apple}},ISNUMBER({E("apple_decode_mbu")})),'
                                                   f'{E("apple_decode_mbu")},{E("decode_mbu")})'), "Decode MBU"),
        Calc("half_tokens", f'IF(AND({{on_apple}},ISNUMBER({E("apple_prefill_half_tokens")})),'
                            f'{E("apple_prefill_half_tokens")},{E("prefill_half_tokens")})', "Half-efficiency tokens"),
        Calc("prefill_fixed", _override("prefill_overhead_s", E("prefill_overhead_s")), "Prefill fixed s"),
        Calc("step_fixed", f"{_override('decode_step_overhead_s', E('decode_step_overhead_s'))}"
                           f"+{{layers}}*{E('decode_overhead_s_per_layer')}",
             "Decode fixed s per step"),
        Calc("cpu_floor", f"{{layers}}*{E('cpu_floor_s_per_layer')}", "CPU floor s per step"),
        Calc("continuous", f"{E('continuous_batching')}=TRUE", "Continuous batching?"),
        # --- hardware ----------------------------------------------------------------------------
        Calc("mem_gib", _override("memory_gib", H("memory_gib")), "Memory GiB per GPU"),
        Calc("mem_fraction", f'IF({{custom_hw}},1,{H("memory_fraction")})', "Allocatable share"),
        Calc("bandwidth", f"{_override('bandwidth_gb_s', H('bandwidth_gb_s'))}*{BYTES_PER_GB:.0f}", "Bandwidth B/s"),
        Calc("tflops_fp16", num(H("tflops_fp16")), "TFLOPS 16-bit"),
        Calc("compute", P("compute"), "Computes in"),
        Calc("tflops_used", _override("tflops", _by_compute()), "Dense TFLOPS used"),
        Calc("peak", f"{{tflops_used}}*{TERA:.0f}", "Peak FLOP/s per GPU"),
        Calc("link", f'IF({{h_row}}>0,IF({num(H("interconnect_gb_s"))}>0,{H("interconnect_gb_s")},'
                     f'default_link_gb_s),default_link_gb_s)*{BYTES_PER_GB:.0f}',
             "Link B/s"),
        Calc("price_known", f'AND({{has_hw}},OR(ISNUMBER({{price_per_hour}}),'
                            f'AND({{h_row}}>0,ISNUMBER({H("price_usd_per_hour")}))))', "Price known?"),
        Calc("price", f'IF(ISNUMBER({{price_per_hour}}),{{price_per_hour}},{H("price_usd_per_hour")})',
             "USD per GPU-hour"),
        Calc("is_cuda", '{hw_kind}="gpu"', "CUDA-class GPU?"),
        Calc("hosted", "AND({has_hw},NOT({is_api}))", "Self-hosted model on a device?"),
        # --- weights ------------------------------------------------------------------------------
        Calc("emb", "{vocab}*{hidden}", "Embedding parameters"),
        Calc("out_p", "IF({tie},0,{vocab}*{hidden})", "Output parameters"),
        Calc("mlps", "MAX({experts}+{shared_experts},1)", "MLPs per layer"),
        Calc("layer_total", "2*({heads}*{head_dim}*{hidden})+2*({kv_heads}*{head_dim}*{hidden})"
                            "+3*({ffn}*{hidden}*{mlps})", "Linear weights per layer"),
        Calc("s_v", "IF({ffn}>0,{kv_heads}*{head_dim}*{hidden}/{layer_total},share_v_default)", "attn_v share"),
        Calc("s_down", "IF({ffn}>0,{ffn}*{hidden}*{mlps}/{layer_total},share_down_default)", "ffn_down share"),
        Calc("s_o", "IF({ffn}>0,{heads}*{head_dim}*{hidden}/{layer_total},share_o_default)", "attn_output share"),
        Calc("body_bits", "{bits}+{up_share}*({s_v}*({v_bits}-{bits})+{s_down}*({down_bits}-{bits}))"
                          "+{s_o}*({o_bits}-{bits})", "Body bits per weight"),
        Calc("weights", "(({params}-{emb}-{out_p})*{body_bits}+{emb}*{emb_bits}+{out_p}*{out_bits})/8", "Weights B"),
        Calc("expert_share", "IF({experts}>0,{k_active}/{experts},0)", "Active expert share"),
        Calc("expert_params", "IF(AND({experts}>0,{expert_share}<1),({params}-{active})/(1-{expert_share}),0)",
             "Routed expert parameters"),
        Calc("expert_bytes", "{expert_params}*{body_bits}/8", "Routed expert B"),
        Calc("dense_read", "{weights}-{expert_bytes}-IF({tie},0,{emb}*{emb_bits}/8)", "Weights read per step B"),
        # --- KV cache and memory at the requested GPUs --------------------------------------------
        Calc("full_held", "ROUNDUP({context}/{block},0)*{block}", "Tokens held (full layers)"),
        Calc("has_window", "AND({window}>0,{window_saves})", "Window layers hold less?"),
        Calc("win_held", "IF({has_window},ROUNDUP(MIN({context},{window})/{block},0)*{block},{full_held})",
             "Tokens held (window layers)"),
        Calc("swa_layers", "IF({has_window},{window_layers},0)", "Layers holding the window"),
        Calc("pass_tokens", "MAX(MIN({batch_in}*MAX({prompt},1),{max_tokens}),1)", "Tokens per pass"),
    ]
    cols += [Calc(f"fits_{g}", _fits_at(g), f"Fits on {g} GPUs?") for g in GPU_CANDIDATES]
    cols += [
        Calc("gpus_needed_n", "INDEX(gpu_candidates,MATCH(TRUE,{fits_range},0))", "Fewest GPUs that fit"),
        Calc("gpus_in", f'IF({{gpus_auto}},{{gpus_needed_n}},{_number("gpus")})', "GPUs"),
        Calc("tp", "IF({tensor},{gpus_in},1)", "Tensor-parallel degree"),
        Calc("heads_stored", "ROUNDUP({kv_heads}/{tp},0)*{tp}", "KV heads held"),
        Calc("per_tok_layer", "IF({lora}>0,({lora}+{rope})*{kv_bytes}*{tp},2*{heads_stored}*{head_dim}*{kv_bytes})",
             "KV B per token per layer"),
        Calc("kv_seq", "{per_tok_layer}*(({layers}-{swa_layers})*{full_held}+{swa_layers}*{win_held})",
             "KV B per sequence"),
        Calc("kv_total", "{batch_in}*{kv_seq}", "KV cache B"),
        Calc("act_factor", _act_factor("{tp}"), "Activation factor c(TP)"),
        Calc("act", "{tp}*activation_bytes*{pass_tokens}*{heads}*{head_dim}*{act_factor}"
                    "+{batch_in}*{vocab}*logit_bytes", "Activations B"),
        Calc("ovh", f"{{gpus_in}}*({{engine_overhead}}+IF({{is_cuda}},cuda_context_gib,0)"
                    f"+IF(AND({{tensor}},{{gpus_in}}>1),nccl_buffers_gib,0))*{GIB}", "Overhead B"),
        Calc("device", f"{{gpus_in}}*{{mem_gib}}*{GIB}*{{mem_fraction}}", "Device memory B"),
        Calc("static", "{weights}+{act}+{ovh}", "Weights + activations + overhead B"),
        Calc("usable", "IF({rule_free},{static}+{fraction}*MAX({device}-{static},0),{fraction}*{device})",
             "Usable B"),
        Calc("total", "{static}+{kv_total}", "Total B"),
        Calc("no_fit", "AND({hosted},{total}>{usable})", "Does not fit (cannot run)?"),
        # --- largest batch -------------------------------------------------------------------------
        Calc("act_tok", "{tp}*activation_bytes*{heads}*{head_dim}*{act_factor}", "Activation B per token"),
        Calc("p_seq", "IF({rule_free},{kv_seq}+{fraction}*({vocab}*logit_bytes),{kv_seq}+{vocab}*logit_bytes)",
             "B per sequence"),
        Calc("q_tok", "IF({rule_free},{fraction}*{act_tok},{act_tok})", "B per prompt token"),
        Calc("budget", "IF({rule_free},{fraction}*({device}-({weights}+{ovh})),{fraction}*{device}-({weights}+{ovh}))",
             "Budget B"),
        Calc("mb_prompt", "MAX({prompt},1)", "Prompt (>= 1)"),
        Calc("mb_cross", "{max_tokens}/{mb_prompt}", "Sequences filling a pass"),
        Calc("max_batch_n", "MAX(IF({budget}-{q_tok}*{max_tokens}>={mb_cross}*{p_seq},"
                            "INT(({budget}-{q_tok}*{max_tokens})/{p_seq}),"
                            "MIN(INT({budget}/({p_seq}+{q_tok}*{mb_prompt})),INT({mb_cross}))),0)", "Largest batch"),
    ]
    cols += [
        # --- speed ------------------------------------------------------------------------------------
        Calc("bw_eff", "{bandwidth}*{tp}", "Bandwidth B/s (all GPUs)"),
        Calc("flops_eff", "{peak}*{tp}", "Peak FLOP/s (all GPUs)"),
        Calc("linear", "{active}-{emb}-{out_p}", "Matmul parameters per token"),
        Calc("head_flops", "2*{vocab}*{hidden}", "lm_head FLOPs per token"),
        Calc("kv_token_all_layers", "{per_tok_layer}*{layers}", "KV B per token"),
        Calc("pairs_full", "{prompt}*{prompt}/2", "Attention pairs (full)"),
        Calc("pairs_win", "IF({window}>0,IF({prompt}<={window},{prompt}*{prompt}/2,"
                          "{window}*{window}/2+({prompt}-{window})*{window}),{prompt}*{prompt}/2)",
             "Attention pairs (window)"),
        Calc("attn_flops_prompt", "4*{heads}*{head_dim}*(({layers}-{window_layers})*{pairs_full}"
                                  "+{window_layers}*{pairs_win})", "Prompt attention FLOPs"),
        Calc("dequantizes", f'AND({E("prefill_dequantizes")}=TRUE,{{is_cuda}},{P("family")}="gguf")',
             "Dequantises GGUF for prefill?"),
        Calc("expert_linear", "{expert_params}*{expert_share}", "Expert parameters per token"),
    ]
    cols += _prefill("1") + _prefill("{batch_in}")
    cols += [
        Calc("ttft_core", "IF({continuous},{prefill_s_1},{prefill_s_b})", "Prefill s (TTFT)"),
        Calc("mean_ctx", "{prompt}+{output}/2", "Mean context"),
        Calc("ctx_win", "IF({window}>0,MIN({mean_ctx},{window}),{mean_ctx})", "Mean context (window)"),
        Calc("full_layers", "{layers}-{window_layers}", "Full-attention layers"),
        Calc("attn_ctx", "{full_layers}*{mean_ctx}+{window_layers}*{ctx_win}", "Attended tokens x layers"),
        Calc("dec_bytes", f"{{dense_read}}+{{expert_bytes}}*IF({{experts}}>0,{_touched('{batch_in}')},0)"
                          "+{batch_in}*{per_tok_layer}*{attn_ctx}", "Decode bytes per step"),
        Calc("dec_flops", "{batch_in}*(2*{linear}+{head_flops}+4*{heads}*{head_dim}*{attn_ctx})",
             "Decode FLOPs per step"),
        Calc("tpot_core", f"MAX(MAX({{dec_flops}}/({{flops_eff}}*{{mfu_decode}}),{{dec_bytes}}/({{bw_eff}}*{{mbu_decode}})),"
                          f"{{cpu_floor}})+{_comm('{batch_in}')}+{{step_fixed}}", "Decode s per step"),
        Calc("speed_known", f'IF({{is_api}},AND({num(M("ttft_s"))}>0,{num(M("output_tokens_per_s"))}>0),'
                            f'AND({{has_hw}},{{tflops_used}}>0))', "Speed known?"),
        Calc("ttft", f'IF({{is_api}},{M("ttft_s")},{{ttft_core}})', "TTFT s"),
        Calc("tpot", f'IF({{is_api}},1/{M("output_tokens_per_s")},{{tpot_core}})', "TPOT s"),
        Calc("steps", "MAX({output}-1,0)", "Decode steps after the first token"),
        Calc("latency_known", 'OR({latency_s}<>"",{speed_known})', "Latency known?"),
        Calc("latency", 'IF({latency_s}<>"",{latency_s},{ttft}+{steps}*{tpot})', "Latency s"),
        Calc("busy", 'IF({latency_s}<>"",{latency_s},IF({is_api},{ttft}+{steps}*{tpot},{prefill_s_b}+{steps}*{tpot}))',
             "Busy s per batch"),
        # --- cost ----------------------------------------------------------------------------------
        Calc("token_cost", f"IF({{is_api}},(({{prompt}}-{{cached}})*{M('input_usd_per_mtok')}"
                           f"+{{cached}}*IF(ISNUMBER({M('cached_input_usd_per_mtok')}),"
                           f"{M('cached_input_usd_per_mtok')},{M('input_usd_per_mtok')})"
                           f"+{{output}}*{M('output_usd_per_mtok')})/1000000,0)", "API token USD"),
        Calc("infra_known", "AND({has_hw},{price_known},{latency_known})", "GPU cost known?"),
        Calc("infra", "IF({has_hw},{gpus_in}*{price}*{busy}/3600/{batch_in}/{util},0)", "GPU time USD"),
        Calc("deployment", "{gpus_in}*{price}*hours_per_month", "Deployment USD per month"),
        Calc("capacity", "{batch_in}/{busy}*3600*hours_per_month*{util}", "Requests per month capacity"),
        Calc("requests_given", "ISNUMBER({requests_per_month})", "Requests per month given?"),
        Calc("requests", "IF({requests_given},{requests_per_month},0)", "Requests per month"),
        Calc("replicas", "IF({requests}>0,MAX(ROUNDUP({requests}/{capacity},0),1),0)", "Replicas"),
        # always-on replicas price self-hosted models; an API model is paid per request
        Calc("monthly", "IF({is_api},{requests}*({token_cost}+{infra}),{requests}*{token_cost}"
                        "+{replicas}*{deployment})", "Monthly USD"),
        Calc("monthly_known", "AND({requests_given},IF({is_api},OR(NOT({has_hw}),{infra_known}),"
                              "AND({hosted},{price_known},OR({requests}=0,{latency_known}))))",
             "Monthly cost known?"),
        # --- what the row's Check cell says ------------------------------------------------------
    ]
    checks = _input_checks() + _combination_checks()
    groups = [checks[i:i + CHECKS_PER_COLUMN] for i in range(0, len(checks), CHECKS_PER_COLUMN)]
    cols += [Calc(f"problems_{i}", _problems(g), "Problems found", guard=False) for i, g in enumerate(groups)]
    return cols


#: Scenario outputs: key (as in estimate --json), header, number format, Calc formula, when "n/a".
OUTPUTS = (
    ("weights_gib", "Weights GiB", "0.00", f"{{weights}}/{GIB}", "{is_api}"),
    ("kv_cache_gib", "KV cache GiB", "0.00", f"{{kv_total}}/{GIB}", "{is_api}"),
    ("activations_gib", "Activations GiB", "0.00", f"{{act}}/{GIB}", "{is_api}"),
    ("overhead_gib", "Overhead GiB", "0.00", f"{{ovh}}/{GIB}", "{is_api}"),
    ("total_memory_gib", "Total memory GiB", "0.00", f"{{total}}/{GIB}", "{is_api}"),
    ("usable_memory_gib", "Usable memory GiB", "0.00", f"{{usable}}/{GIB}", "OR({is_api},NOT({has_hw}))"),
    ("fits", "Fits?", "General", "{total}<={usable}", "OR({is_api},NOT({has_hw}))"),
    ("gpus_needed", "GPUs needed", "0", "IF({gpus_needed_n}>0,{gpus_needed_n},NA())",
     "OR({is_api},NOT({has_hw}))"),
    ("max_batch", "Largest batch", "#,##0", "{max_batch_n}", "OR({is_api},NOT({has_hw}))"),
    ("ttft_s", "TTFT s", "0.000", "{ttft}", "NOT({speed_known})"),
    ("tpot_s", "TPOT s", "0.0000", "{tpot}", "NOT({speed_known})"),
    ("latency_s", "Latency s", "0.00", "{latency}", "NOT({latency_known})"),
    ("prefill_tokens_per_s", "Prefill tokens/s", "#,##0", "{prompt}/{ttft}", "OR({is_api},NOT({speed_known}))"),
    ("decode_tokens_per_s", "Decode tokens/s", "#,##0.0", "1/{tpot}", "NOT({speed_known})"),
    ("throughput_tokens_per_s", "Throughput tokens/s", "#,##0", "{batch_in}*{output}/{busy}", "NOT({latency_known})"),
    ("token_cost_usd", "API tokens USD", "$#,##0.000000", "{token_cost}", "FALSE"),
    ("infra_cost_usd", "GPU time USD", "$#,##0.000000", "{infra}",
     "IF({has_hw},NOT({infra_known}),NOT({is_api}))"),
    ("cost_per_request_usd", "Cost per request USD", "$#,##0.000000", "{token_cost}+{infra}",
     "IF({has_hw},NOT({infra_known}),NOT({is_api}))"),
    ("cost_per_mtok_usd", "USD per million output tokens", "$#,##0.00", "({token_cost}+{infra})/{output}*1000000",
     "OR(IF({has_hw},NOT({infra_known}),NOT({is_api})),{output}<=0)"),
    ("deployment_usd_per_month", "Deployment USD a month", "$#,##0.00", "{deployment}",
     "OR(NOT({hosted}),NOT({price_known}))"),
    ("capacity_requests_per_month", "Capacity, requests a month", "#,##0", "{capacity}",
     "OR(NOT({hosted}),NOT({latency_known}))"),
    ("replicas_needed", "Replicas", "0", "{replicas}",
     "OR(NOT({hosted}),NOT({requests_given}),AND({requests}>0,NOT({latency_known})))"),
    ("monthly_cost_usd", "Monthly cost USD", "$#,##0.00", "{monthly}", "NOT({monthly_known})"),
    ("effective_cost_per_request_usd", "Effective cost per request USD", "$#,##0.000000", "{monthly}/{requests}",
     "OR(NOT({monthly_known}),{requests}<=0)"),
)
OUTPUT_KEYS = tuple(k for k, *_ in OUTPUTS)

def _typed(key: str) -> str:
    """The text a user typed, cut short for a message."""
    return f'"\'"&LEFT(TRIM({{{key}}}),40)&"\'"'


def _input_checks() -> list[tuple[str, str]]:
    """(condition, message) for each rule the core applies to one input, generated from its
    option table so that the workbook refuses what the core refuses."""
    from ..core.estimate import NUMBER_OPTIONS

    checks = []
    sheet = {"model": "Models", "hardware": "Hardware", "precision": "Precisions", "engine": "Engines",
             "kv_precision": "Precisions"}
    given = {"model": 'TRIM({model})<>""', "hardware": 'AND(TRIM({hardware})<>"",LOWER(TRIM({hardware}))<>"auto")',
             "precision": "{precision_id_given}", "engine": "{engine_id_given}", "kv_precision": "{kv_id_given}"}
    rows = {"model": "m_row", "hardware": "h_row", "precision": "p_row", "engine": "e_row", "kv_precision": "kv_row"}
    for key in TEXT_INPUTS:
        checks.append((f"AND({given[key]},{{{rows[key]}}}=0)",
                       f'"Unknown {key.replace("_", " ")} "&{_typed(key)}&": pick one from the {sheet[key]} sheet. "'))
    checks.append(('AND(NOT({precision_id_given}),{p_row}=0)',
                    '"Unknown default_precision on the Assumptions sheet. "'))
    for key, rule in NUMBER_OPTIONS.items():
        cell = f"{{{key}}}"
        not_number = f'AND(TRIM({cell})<>"",NOT(ISNUMBER({cell})))'
        if key == "gpus":
            not_number = f"AND({not_number},NOT({{gpus_auto}}))"
        checks.append((not_number, f'"{key} must be a number, got "&{_typed(key)}&". "'))
        number = f"ISNUMBER({cell})"
        if rule.get("minimum") is not None:
            checks.append((f"AND({number},{cell}<{rule['minimum']:g})", f'"{key} must be >= {rule["minimum"]:g}. "'))
        if rule.get("above") is not None:
            checks.append((f"AND({number},{cell}<={rule['above']:g})", f'"{key} must be > {rule["above"]:g}. "'))
        if rule.get("maximum") is not None:
            checks.append((f"AND({number},{cell}>{rule['maximum']:g})", f'"{key} must be <= {rule["maximum"]:g}. "'))
        if rule.get("whole"):
            checks.append((f"AND({number},{cell}<>INT({cell}))", f'"{key} must be a whole number. "'))
    return checks


def _combination_checks() -> list[tuple[str, str]]:
    """(condition, message) for the rules across inputs (the core's, in its words)."""
    runs = "AND(NOT({is_api}),{h_row}>0,{e_row}>0)"
    return [
        ("{cached}>{prompt}", '"cached_input_tokens must be <= input_tokens. "'),
        ("AND(ISNUMBER({context_tokens}),{context}<{prompt}+{output})",
         '"context_tokens must hold input_tokens + output_tokens. "'),
        ("AND({m_row}>0,ISNUMBER(INDEX(m_context_length,{m_row})),"
         "MAX({context},{prompt}+{output})>INDEX(m_context_length,{m_row}))",
         '"Context longer than the model\'s context length: use fewer input/output tokens. "'),
        ("AND({custom_hw},NOT(AND(ISNUMBER({memory_gib}),ISNUMBER({bandwidth_gb_s}),ISNUMBER({tflops}))))",
         '"A device not in the catalog needs memory_gib, bandwidth_gb_s and tflops together. "'),
        ("AND(NOT({is_api}),{kv_row}>0,{kv_bytes}<=0)", '"This KV precision cannot hold a KV cache: use fp16 or fp8. "'),
        (f'AND({runs},NOT(ISNUMBER(SEARCH({{hw_kind}},INDEX(e_hardware_kinds,{{e_row}})))))',
         '"The engine does not run on this hardware: use llama.cpp. "'),
        (f'AND({runs},INDEX(e_vendors,{{e_row}})<>"",{{hw_kind}}="gpu",'
         'NOT(ISNUMBER(SEARCH(INDEX(h_vendor,{h_row}),INDEX(e_vendors,{e_row})))))',
         '"The engine does not run on this GPU vendor: use vllm or llama.cpp. "'),
        ('AND(NOT({is_api}),{e_row}>0,{p_row}>0,INDEX(e_precisions,{e_row})<>"",'
         'NOT(ISNUMBER(SEARCH(";"&{precision_id}&";",";"&SUBSTITUTE(INDEX(e_precisions,{e_row})," ","")&";"))))',
         '"The engine does not run this precision. "'),
        ("AND({gpus_auto},NOT({is_api}),{has_hw},{gpus_needed_n}=0)",
         '"gpus auto: no GPU count up to 64 holds this workload. "'),
    ]


def _problems(checks: list[tuple[str, str]]) -> str:
    """Every failing check's message, one after another ("" when all pass). A check that cannot
    be evaluated (its inputs are unusable, another message says why) does not fire."""
    return "&".join(f'IF(IFERROR({cond},FALSE),{msg},"")' for cond, msg in checks)


#: The message a row shows when its inputs are not usable (empty when they are).
def check_formula() -> str:
    n = -(-len(_input_checks() + _combination_checks()) // CHECKS_PER_COLUMN)
    return 'IF(TRIM({model})="","",TRIM(' + "&".join(f"{{problems_{i}}}" for i in range(n)) + "))"


#: Checks per Calc column: keeps each formula far below Excel's 8,192 characters.
CHECKS_PER_COLUMN = 8
CHECK = check_formula()
