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

from . import defaults
from .units import BYTES_PER_GB, TERA


def M(field: str) -> str:
    return f"INDEX(m_{field},{{m_row}})"


def H(field: str) -> str:
    return f"INDEX(h_{field},{{h_row}})"


def E(field: str) -> str:
    return f"INDEX(e_{field},{{e_row}})"


def P(field: str, row: str = "p_row") -> str:
    return f"INDEX(p_{field},{{{row}}})"


@dataclass(frozen=True)
class Calc:
    key: str
    formula: str           # template without "="
    header: str = ""
    fmt: str = "General"
    guard: bool = True     # wrap in IFERROR(..., 0): rows that do not apply compute 0, never an error


#: Scenario inputs (Scenarios sheet), in column order: key, header, default (None: required/blank).
INPUTS = (
    ("scenario", "Scenario", None),
    ("model", "Model", None),
    ("hardware", "Hardware", None),
    ("gpus", "GPUs", defaults.DEFAULT_GPUS),
    ("precision", "Precision", None),
    ("engine", "Engine", None),
    ("input_tokens", "Input tokens", defaults.DEFAULT_INPUT_TOKENS),
    ("output_tokens", "Output tokens", defaults.DEFAULT_OUTPUT_TOKENS),
    ("batch", "Batch (sequences at once)", defaults.DEFAULT_BATCH),
    ("requests_per_month", "Requests per month", None),
    ("context_tokens", "Context tokens (empty: in + out)", None),
    ("kv_precision", "KV precision (empty: auto)", None),
    ("latency_s", "Latency s (empty: estimate)", None),
    ("price_per_hour", "USD per GPU-hour (empty: catalog)", None),
)
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
             f"/({{flops_eff}}*{{prefill_mfu}}*({{{rows}}}/({{{rows}}}+{{half_tokens}})))"
             f"+({n}*2*{{expert_linear}}*{{prompt}})/({{flops_eff}}*{{prefill_mfu}}"
             f"*(MAX({{{rows}}}*{{expert_share}},1)/(MAX({{{rows}}}*{{expert_share}},1)+{{half_tokens}})))",
             "Prefill arithmetic s"),
        Calc(f"pf_moved_{s}",
             f"{{dense_read}}+{{expert_bytes}}*IF({{experts}}>0,{_touched('{' + tokens + '}')},0)"
             f"+{{{tokens}}}*{{kv_token_all_layers}}", "Prefill bytes moved"),
        Calc(f"pf_dequant_{s}",
             f"IF({{dequantizes}},ROUNDUP(MAX({{{tokens}}},1)/{{max_tokens}},0)*({{params}}-{{emb}})*4"
             f"/({{bw_eff}}*{{decode_mbu}}),0)", "GGUF dequantisation s"),
        Calc(f"prefill_s_{s}",
             f"MAX({{pf_compute_{s}}},{{pf_moved_{s}}}/({{bw_eff}}*{{decode_mbu}}))+{{pf_dequant_{s}}}"
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


def columns() -> list[Calc]:
    """Every Calc column, in an order where each uses only those before it."""
    cols = [
        # --- which rows of the catalog tables ------------------------------------------------
        Calc("m_row", "MATCH({model},m_id,0)", "Models row", guard=True),
        Calc("h_row", 'IF({hardware}="",0,MATCH({hardware},h_id,0))', "Hardware row (0: none)"),
        Calc("is_api", f'IF({{m_row}}>0,{M("kind")}="api",FALSE)', "API model?"),
        Calc("has_hw", "{h_row}>0", "Hardware given?"),
        Calc("hw_kind", f'IF({{has_hw}},{H("kind")},"gpu")', "Hardware kind"),
        Calc("precision_id", 'IF({precision}="",default_precision,{precision})', "Precision"),
        Calc("p_row", "MATCH({precision_id},p_id,0)", "Precisions row"),
        Calc("engine_id", f'IF({{engine}}="",IF(OR({{hw_kind}}="apple",{{hw_kind}}="cpu",{P("family")}="gguf"),'
                          f'"{defaults.DEFAULT_LOCAL_ENGINE}","{defaults.DEFAULT_GPU_ENGINE}"),{{engine}})', "Engine"),
        Calc("e_row", "MATCH({engine_id},e_id,0)", "Engines row"),
        Calc("kv_id", 'IF({kv_precision}="",IF(OR({precision_id}="fp32",{precision_id}="bf16"),{precision_id},"fp16"),'
                      '{kv_precision})', "KV precision"),
        Calc("kv_row", "MATCH({kv_id},p_id,0)", "KV precisions row"),
        Calc("kv_bytes", P("kv_bytes", "kv_row"), "KV bytes per value"),
        # --- workload -----------------------------------------------------------------------------
        Calc("gpus_in", f'IF({{gpus}}="",{defaults.DEFAULT_GPUS},{{gpus}})', "GPUs"),
        Calc("batch_in", f'IF({{batch}}="",{defaults.DEFAULT_BATCH},{{batch}})', "Batch"),
        Calc("prompt", f'IF({{input_tokens}}="",{defaults.DEFAULT_INPUT_TOKENS},{{input_tokens}})', "Input tokens"),
        Calc("output", f'IF({{output_tokens}}="",{defaults.DEFAULT_OUTPUT_TOKENS},{{output_tokens}})', "Output tokens"),
        Calc("context", 'IF({context_tokens}="",{prompt}+{output},{context_tokens})', "Context tokens"),
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
        Calc("fraction", E("memory_fraction"), "Memory fraction"),
        Calc("block", E("kv_block_tokens"), "KV block tokens"),
        Calc("max_tokens", E("max_batched_tokens"), "Max batched tokens"),
        Calc("engine_overhead", E("overhead_gib"), "Engine overhead GiB/GPU"),
        Calc("window_saves", f"{E('sliding_window_saves_memory')}=TRUE", "Window frees memory?"),
        Calc("on_apple", '{hw_kind}="apple"', "Apple GPU?"),
        Calc("prefill_mfu", f'IF(AND({{on_apple}},{E("apple_prefill_mfu")}<>""),{E("apple_prefill_mfu")},'
                            f'{E("prefill_mfu")})', "Prefill MFU"),
        Calc("decode_mfu", E("decode_mfu"), "Decode MFU"),
        Calc("decode_mbu", f'IF(AND({{on_apple}},{E("apple_decode_mbu")}<>""),{E("apple_decode_mbu")},'
                           f'{E("decode_mbu")})', "Decode MBU"),
        Calc("half_tokens", f'IF(AND({{on_apple}},{E("apple_prefill_half_tokens")}<>""),'
                            f'{E("apple_prefill_half_tokens")},{E("prefill_half_tokens")})', "Half-efficiency tokens"),
        Calc("prefill_fixed", E("prefill_overhead_s"), "Prefill fixed s"),
        Calc("step_fixed", f"{E('decode_step_overhead_s')}+{{layers}}*{E('decode_overhead_s_per_layer')}",
             "Decode fixed s per step"),
        Calc("cpu_floor", f"{{layers}}*{E('cpu_floor_s_per_layer')}", "CPU floor s per step"),
        Calc("continuous", f"{E('continuous_batching')}=TRUE", "Continuous batching?"),
        # --- hardware ----------------------------------------------------------------------------
        Calc("mem_gib", H("memory_gib"), "Memory GiB per GPU"),
        Calc("mem_fraction", H("memory_fraction"), "Allocatable share"),
        Calc("bandwidth", f"{H('bandwidth_gb_s')}*{BYTES_PER_GB:.0f}", "Bandwidth B/s"),
        Calc("tflops_fp16", H("tflops_fp16"), "TFLOPS 16-bit"),
        Calc("compute", P("compute"), "Computes in"),
        Calc("tflops", f'IF({{compute}}="fp32",IF(N({H("tflops_fp32")})>0,{H("tflops_fp32")},{{tflops_fp16}}),'
                       f'IF({{compute}}="fp8",IF(N({H("tflops_fp8")})>0,{H("tflops_fp8")},{{tflops_fp16}}),'
                       f'IF({{compute}}="int8",IF(N({H("tflops_int8")})>0,{H("tflops_int8")},{{tflops_fp16}}),'
                       f'IF({{compute}}="fp4",IF(N({H("tflops_fp4")})>0,{H("tflops_fp4")},{{tflops_fp16}}),'
                       f'{{tflops_fp16}}))))', "Dense TFLOPS used"),
        Calc("peak", f"{{tflops}}*{TERA:.0f}", "Peak FLOP/s per GPU"),
        Calc("link", f'IF(N({H("interconnect_gb_s")})>0,{H("interconnect_gb_s")},default_link_gb_s)*{BYTES_PER_GB:.0f}',
             "Link B/s"),
        Calc("price_known", f'IF({{price_per_hour}}<>"",TRUE,AND({{has_hw}},{H("price_usd_per_hour")}<>""))',
             "Price known?"),
        Calc("price", f'IF({{price_per_hour}}<>"",{{price_per_hour}},{H("price_usd_per_hour")})', "USD per GPU-hour"),
        Calc("is_cuda", '{hw_kind}="gpu"', "CUDA-class GPU?"),
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
        Calc("tp", "IF({tensor},{gpus_in},1)", "Tensor-parallel degree"),
        Calc("heads_stored", "ROUNDUP({kv_heads}/{tp},0)*{tp}", "KV heads held"),
        Calc("per_tok_layer", "IF({lora}>0,({lora}+{rope})*{kv_bytes}*{tp},2*{heads_stored}*{head_dim}*{kv_bytes})",
             "KV B per token per layer"),
        Calc("full_held", "ROUNDUP({context}/{block},0)*{block}", "Tokens held (full layers)"),
        Calc("has_window", "AND({window}>0,{window_saves})", "Window layers hold less?"),
        Calc("win_held", "IF({has_window},ROUNDUP(MIN({context},{window})/{block},0)*{block},{full_held})",
             "Tokens held (window layers)"),
        Calc("swa_layers", "IF({has_window},{window_layers},0)", "Layers holding the window"),
        Calc("kv_seq", "{per_tok_layer}*(({layers}-{swa_layers})*{full_held}+{swa_layers}*{win_held})",
             "KV B per sequence"),
        Calc("kv_total", "{batch_in}*{kv_seq}", "KV cache B"),
        Calc("pass_tokens", "MAX(MIN({batch_in}*MAX({prompt},1),{max_tokens}),1)", "Tokens per pass"),
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
    cols += [Calc(f"fits_{g}", _fits_at(g), f"Fits on {g} GPUs?") for g in GPU_CANDIDATES]
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
        Calc("tpot_core", f"MAX(MAX({{dec_flops}}/({{flops_eff}}*{{decode_mfu}}),{{dec_bytes}}/({{bw_eff}}*{{decode_mbu}})),"
                          f"{{cpu_floor}})+{_comm('{batch_in}')}+{{step_fixed}}", "Decode s per step"),
        Calc("speed_known", f'IF({{is_api}},AND(N({M("ttft_s")})>0,N({M("output_tokens_per_s")})>0),'
                            f'AND({{has_hw}},{{tflops}}>0))', "Speed known?"),
        Calc("ttft", f'IF({{is_api}},{M("ttft_s")},{{ttft_core}})', "TTFT s"),
        Calc("tpot", f'IF({{is_api}},1/{M("output_tokens_per_s")},{{tpot_core}})', "TPOT s"),
        Calc("steps", "MAX({output}-1,0)", "Decode steps after the first token"),
        Calc("latency_known", 'OR({latency_s}<>"",{speed_known})', "Latency known?"),
        Calc("latency", 'IF({latency_s}<>"",{latency_s},{ttft}+{steps}*{tpot})', "Latency s"),
        Calc("busy", 'IF({latency_s}<>"",{latency_s},IF({is_api},{ttft}+{steps}*{tpot},{prefill_s_b}+{steps}*{tpot}))',
             "Busy s per batch"),
        # --- cost ----------------------------------------------------------------------------------
        Calc("token_cost", f"IF({{is_api}},({{prompt}}*{M('input_usd_per_mtok')}"
                           f"+{{output}}*{M('output_usd_per_mtok')})/1000000,0)", "API token USD"),
        Calc("infra_known", "AND({has_hw},{price_known},{latency_known})", "GPU cost known?"),
        Calc("infra", "IF({has_hw},{gpus_in}*{price}*{busy}/3600/{batch_in}/utilization,0)", "GPU time USD"),
        Calc("deployment", "{gpus_in}*{price}*hours_per_month", "Deployment USD per month"),
        Calc("capacity", "{batch_in}/{busy}*3600*hours_per_month*utilization", "Requests per month capacity"),
        Calc("replicas", 'IF({requests_per_month}="",0,IF({requests_per_month}>0,'
                         'MAX(ROUNDUP({requests_per_month}/{capacity},0),1),0))', "Replicas"),
    ]
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
    ("gpus_needed", "GPUs needed", "0", "INDEX(gpu_candidates,MATCH(TRUE,{fits_range},0))",
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
    ("cost_per_mtok_usd", "USD per 1M output tokens", "$#,##0.00", "({token_cost}+{infra})/{output}*1000000",
     "OR(IF({has_hw},NOT({infra_known}),NOT({is_api})),{output}<=0)"),
    ("deployment_usd_per_month", "Deployment USD/month", "$#,##0.00", "{deployment}",
     "OR(NOT({has_hw}),NOT({price_known}))"),
    ("capacity_requests_per_month", "Capacity requests/month", "#,##0", "{capacity}",
     "OR(NOT({has_hw}),NOT({latency_known}))"),
    ("replicas_needed", "Replicas", "0", "{replicas}",
     'OR(NOT({has_hw}),{requests_per_month}="",NOT({latency_known}))'),
    ("monthly_cost_usd", "Monthly cost USD", "$#,##0.00",
     "{requests_per_month}*{token_cost}+IF({has_hw},{replicas}*{deployment},0)",
     'OR({requests_per_month}="",AND(NOT({has_hw}),NOT({is_api})),'
     'AND({has_hw},OR(NOT({price_known}),NOT({latency_known}))))'),
)
OUTPUT_KEYS = tuple(k for k, *_ in OUTPUTS)

#: The message a row shows when its inputs are not usable (empty when they are).
CHECK = ('IF({model}="","",IF(ISNA(MATCH({model},m_id,0)),"Unknown model: pick one from the Models sheet",'
         'IF(AND({hardware}<>"",ISNA(MATCH({hardware},h_id,0))),"Unknown hardware: pick one from the Hardware sheet",'
         'IF(ISNA(MATCH(IF({precision}="",default_precision,{precision}),p_id,0)),"Unknown precision",'
         'IF(AND({engine}<>"",ISNA(MATCH({engine},e_id,0))),"Unknown engine",'
         'IF(AND({kv_precision}<>"",ISNA(MATCH({kv_precision},p_id,0))),"Unknown KV precision",'
         'IF(OR(N({gpus})<0,N({batch})<0,N({input_tokens})<0,N({output_tokens})<0),"Negative numbers are not allowed",'
         'IF(AND(NOT({is_api}),MAX({context},{prompt}+{output})>INDEX(m_context_length,{m_row})),'
         '"Context longer than the model\'s context length",'
         'IF(AND(NOT({is_api}),NOT(ISNUMBER(SEARCH({hw_kind},INDEX(e_hardware_kinds,{e_row}))))),'
         '"The engine does not run on this hardware: use llama.cpp",'
         'IF(AND(NOT({is_api}),{has_hw},INDEX(e_vendors,{e_row})<>"",{hw_kind}="gpu",'
         'NOT(ISNUMBER(SEARCH(INDEX(h_vendor,{h_row}),INDEX(e_vendors,{e_row}))))),'
         '"The engine does not run on this GPU vendor",'
         'IF(AND(NOT({is_api}),INDEX(e_precisions,{e_row})<>"",NOT(ISNUMBER(SEARCH(";"&{precision_id}&";",'
         '";"&SUBSTITUTE(INDEX(e_precisions,{e_row})," ","")&";")))),"The engine does not run this precision",'
         '"")))))))))))')
