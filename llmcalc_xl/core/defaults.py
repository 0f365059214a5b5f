"""Named defaults, each with its source. Every one can be overridden per call.

Engine-specific numbers (memory fraction, paging block, efficiencies, fixed
overheads) live in the engines catalog (``catalogs/engines.toml``), not here: they
are data a user may edit. What is here is physics shared by all engines and the
workload a question gets when it names none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..units import HOURS_PER_MONTH

# --- workload defaults (what `llmcalc-xl estimate --model X` assumes) -------------
#: A typical chat turn: a 1,000-token prompt and a 500-token answer. The research notes
#: this project started from priced 500-token GPT-4 answers.
DEFAULT_INPUT_TOKENS = 1000
DEFAULT_OUTPUT_TOKENS = 500
#: No input tokens served from an API's prompt cache unless said.
DEFAULT_CACHED_INPUT_TOKENS = 0
DEFAULT_BATCH = 1
DEFAULT_GPUS = 1
#: Weights in 16-bit floating point, as most open-weight checkpoints are published.
DEFAULT_PRECISION = "fp16"
#: An empty engine (or "auto"): llama.cpp on Apple and CPU hardware or with a GGUF precision,
#: vLLM otherwise. An empty KV precision keeps the weights' float type (fp32/bf16), else fp16,
#: which is what vLLM, TensorRT-LLM and llama.cpp do by default with quantised weights, except that
#: FP8/NVFP4 weights of a 16-bit model on an engine with kv_cache_follows_checkpoint get fp8 (a
#: quantised checkpoint's kv_cache_quant_algo; estimate.py).
DEFAULT_ENGINE = "auto"
DEFAULT_KV_PRECISION = "auto"
DEFAULT_GPU_ENGINE = "vllm"
DEFAULT_LOCAL_ENGINE = "llama.cpp"
#: Share of the time a serving replica can be kept busy. 1.0 prices GPU time at cost; set it
#: lower for headroom a replica keeps to hold its latency (queues, uneven batches). Daily peaks
#: and quiet nights are peak_to_average's (README, "Own, rent or API").
DEFAULT_UTILIZATION = 1.0

# --- traffic and fleet -----------------------------------------------------------------------------
#: Replicas are sized for the average load unless told the peak is higher: 1 is traffic spread
#: evenly over the month (the arithmetic before peak_to_average existed).
DEFAULT_PEAK_TO_AVERAGE = 1.0
#: No spare replicas (N+0) unless asked for.
DEFAULT_REDUNDANCY = 0
#: Rented replicas stay up for the peak all day unless told to follow the day's load ("no": the
#: fleet a quote commits to; autoscaling depends on the provider and the engine's start-up time).
DEFAULT_AUTOSCALE = "no"
#: With autoscale, the day's peak lasts 8 hours (a working day) unless given: the quote's own
#: assumption, not a measurement; give your traffic's.
DEFAULT_PEAK_HOURS_PER_DAY = 8.0

# --- owned hardware (pricing "owned"): the cost of a GPU-hour you own ---------------------------
#: How GPU time is priced when nothing says: the catalog's on-demand rental price; hardware with no
#: rental price is owned where its purchase price and power are known ("auto").
DEFAULT_PRICING = "auto"
#: Write the purchase off over 4 years. Source: the useful life the largest server buyers gave their
#: servers in their 2021 filings: Microsoft, "increase the estimated useful life of server equipment
#: from three years to four years" (10-Q, 2020-10-27, effective fiscal 2021); Alphabet, "adjusted the
#: estimated useful life of our servers from three years to four years" (10-Q, 2021-07-28); Amazon and
#: Meta used four years until 2022 (10-Ks for 2022: Amazon "from four years to five years", Meta "from
#: four years to 4.5 years" and then five).
#: All have since moved to 5-6 years (Microsoft 10-Q Q2 FY2023: "from four years to six years"), while
#: the economic life of an AI accelerator is argued to be shorter; give depreciation_years to choose.
#: Quotes as collected by calcbench.com (2021) and shaulkoral.com (2023).
DEFAULT_DEPRECIATION_YEARS = 4.0
#: No resale value is counted unless given: the conservative reading, and what US tax depreciation
#: (MACRS, IRS Publication 946) does, which ignores salvage value.
DEFAULT_RESIDUAL_SHARE = 0.0
#: 0: the purchase is written off in a straight line, as the books depreciate it (the useful-life
#: sources above), with no charge for the money tied up. Give the company's cost of capital (its
#: WACC, or the rate of the loan that pays for the hardware) to price it as an annuity.
DEFAULT_COST_OF_CAPITAL = 0.0
#: Facility power over IT power. Source: Uptime Institute Global Data Center Survey 2024, average
#: annual PUE of 1.56 reported by operators for their largest data centre (as published by Statista,
#: "Responding to a 2024 survey ... 1.56"); 1.58 in 2023 (Uptime Intelligence Update 221,
#: 2023-11-23, "In 2023, industry average PUE stood at 1.58"). New large sites reach 1.1-1.3.
DEFAULT_PUE = 1.56
#: USD per kWh. Source: US Energy Information Administration, Electric Power Annual 2023 (released
#: 2024-10-17): average price to commercial customers 12.59 cents per kWh in 2023 (industrial: 8.04),
#: as quoted from the finalized EIA data by NPGA (bpnews.com, "2023 Average U.S. Commercial
#: Electricity Price: 12.59 cents per kWh"); 12.41 in 2022 (EIA, via the Washington Research Council's
#: 2024 Competitiveness Redbook, table 43). The commercial price is what an office or a colocation
#: tenant pays; a large site on an industrial tariff pays less.
DEFAULT_ELECTRICITY_USD_PER_KWH = 0.1259
#: No colocation fee unless given: hardware on your own premises pays for power and cooling through
#: PUE x electricity. In a colocation site give its price per kW of IT load a month.
DEFAULT_HOSTING_USD_PER_KW_MONTH = 0.0
#: No maintenance or support contract unless given (a share of the purchase price a year).
DEFAULT_MAINTENANCE_SHARE_PER_YEAR = 0.0

# --- over time (the Forecast sheet, `horizon`): what changes month by month ------------------------
#: Three years: the longer of the two terms the clouds reserve GPU capacity for (AWS EC2 Reserved
#: Instances and Savings Plans, Azure reservations: 1 or 3 years), so that renting reserved and owning
#: compare over the same term; within the servers' depreciation life above. At most MAX_HORIZON_MONTHS.
DEFAULT_HORIZON_MONTHS = 36
#: The longest horizon: five years, one column per month on the quote's Forecast sheet.
MAX_HORIZON_MONTHS = 60
#: No change unless given. Traffic growth and the fall of API and GPU prices are the quote's own
#: assumptions: published trends vary too much for one default to be honest (Epoch AI, "LLM inference
#: prices have fallen rapidly but unequally across tasks", 2025: the price of a given capability fell
#: between 9x and 900x a year depending on the task; rental GPU prices fall as each generation ships),
#: so 0 keeps the forecast at today's monthly cost and a reader sets the trend the quote assumes.
DEFAULT_GROWTH_PER_MONTH = 0.0
DEFAULT_API_PRICE_CHANGE_PER_YEAR = 0.0
DEFAULT_GPU_PRICE_CHANGE_PER_YEAR = 0.0
#: Money later is not discounted unless a rate is given (the NPV is then the plain sum); give the
#: company's cost of capital (WACC), as for cost_of_capital.
DEFAULT_DISCOUNT_RATE = 0.0
#: Owned hardware is priced by its GPU-hour (capital spread over its life) unless told to pay the
#: purchase up front (the cash view).
DEFAULT_CAPEX_UPFRONT = "no"
#: Two amounts of money closer than half a cent are equal where they are compared: which option of the
#: forecast leads and its crossover month (a scenario quoted on the compared API itself costs the same
#: each month, and the last bits of two ways of computing one sum must not make a "crossover" of
#: rounding), and whether a configuration `plan` searches can still beat the cheapest answer found.
MONEY_TIE_USD = 0.005
#: The share by which each driver moves on the Sensitivity sheet (and `llmcalc-xl sensitivity`).
DEFAULT_SENSITIVITY_SHARE = 0.2

# --- memory physics ------------------------------------------------------------------
#: CUDA context per GPU: about 274 MiB with lazy module loading, 636 MiB without
#: (pytorch/pytorch PR #86509, 2022-10-07); "around 400MB if CUDA >= 11.7 ... lazy module
#: loading" (pytorch/pytorch issue #109888, 2023-09-23). Not counted on Apple or CPU hardware.
CUDA_CONTEXT_GIB = 0.4
#: NCCL buffers per GPU when tensor parallelism spans 2+ GPUs: 544 MB for a 2-GPU group,
#: 688 MB for larger ones on 4x A100 (NVIDIA/nccl issue #964, 2023-08-16).
NCCL_BUFFERS_GIB = 0.6
#: Logits are sampled in fp32: 4 bytes per vocabulary entry per sequence in a step.
LOGIT_BYTES = 4.0
#: Bytes per element of the activations that flow between layers (16-bit).
ACTIVATION_BYTES = 2.0
#: Peak activation bytes per token per (n_q x head_dim), by tensor-parallel degree, dense
#: and MoE: NVIDIA AIConfigurator's memory model (github:ai-dynamo/aiconfigurator,
#: sdk/models: c = 10/6/5/5 dense and 22/13/10/10 MoE for TP 1/2/4/8).
ACTIVATION_FACTOR_DENSE = {1: 10.0, 2: 6.0, 4: 5.0, 8: 5.0}
ACTIVATION_FACTOR_MOE = {1: 22.0, 2: 13.0, 4: 10.0, 8: 10.0}
#: Shares of a layer's linear weights in attn_v, ffn_down and attn_output when a model gives
#: no intermediate_size: Llama-2-7B's (h = 4096, ffn = 11008): h^2 / (4 h^2 + 3 h ffn) = 0.083
#: for v and o, h ffn / (4 h^2 + 3 h ffn) = 0.223 for down.
LLAMA2_7B_SHARES = (0.0829, 0.2228, 0.0829)

#: Bytes per element of a linear-attention or state-space layer's recurrent state: vLLM keeps it in
#: the model's 16-bit type unless told otherwise (vllm/model_executor/layers/mamba/mamba_utils.py,
#: MambaStateDtypeCalculator: mamba_cache_dtype "auto" follows the model dtype; docs.vllm.ai v0.10.2).
STATE_BYTES = 2.0
#: Bytes per value of DeepSeek sparse attention's indexer keys: fp8 values plus one fp32 scale per
#: 128 (vLLM's DeepSeek-V3.2 indexer cache: index_head_dim + index_head_dim / 128 x 4 bytes).
INDEXER_BYTES_PER_VALUE = 1.0 + 4.0 / 128.0

# --- speed physics -----------------------------------------------------------------------
#: Fixed latency of one hop of activations between GPUs when layers are split across them (NCCL on
#: NVLink/PCIe: 5-10 us in nccl-tests small-message results).
ALLREDUCE_LATENCY_S = 8e-6
#: Latency of one level of an all-reduce's reduction tree, paid twice per level (up and down): a
#: tensor-parallel decode step waits 2 ceil(log2 n) x this per all-reduce, two all-reduces a layer
#: (14 us on 2 GPUs, 42 us on 8). Fitted on the TPOT of 16-bit dense models on H100 at TP 1-8
#: (TensorRT-LLM Llama-3.1-8B, vLLM and SGLang Qwen3-32B, 351 rows of NVIDIA AIConfigurator's
#: benchmark data: benchmarks/fit_serving.py); the fixed 8 us per all-reduce used before left TP8
#: steps 35% too fast and TP1 9% too slow. It stands for the collective's kernel launches and
#: synchronisation as much as for the wire. (6 us before a wave's prompts left the decode steps of
#: SGLang's Qwen3-32B rows, which the fit includes.)
ALLREDUCE_HOP_LATENCY_S = 7e-6
#: Latency of one all-to-all call (an MoE layer's dispatch or its combine under expert parallelism):
#: the fitted all-reduce tree's latency up and down one level (2 x ALLREDUCE_HOP_LATENCY_S), since
#: no measurement in the calibration data isolates it. DeepEP's low-latency kernels (github:
#: deepseek-ai/DeepEP README: dispatch 77 us and combine 114 us at EP 8 for 128 tokens of hidden 7168,
#: top-8) are bandwidth-bound at that size, so the bytes term carries them.
ALLTOALL_LATENCY_S = 2.0 * ALLREDUCE_HOP_LATENCY_S
#: Per-GPU one-direction bandwidth between nodes where the hardware lists none: one 400 Gb/s
#: ConnectX-7 port per GPU (50 GB/s), as NVIDIA's DGX H100, H200 and B200 systems carry ("eight
#: single-port NVIDIA ConnectX-7 VPI, up to 400 Gb/s InfiniBand/Ethernet": NVIDIA DGX BasePOD
#: reference architecture, Core Components, docs.nvidia.com/dgx-basepod/reference-architecture-
#: infrastructure-foundation-enterprise-ai/latest/core-components.html).
DEFAULT_SCALE_OUT_GB_S = 50.0
#: Link bandwidth used when hardware lists none: PCIe 4.0 x16, ~32 GB/s per direction
#: (PCI-SIG: 16 GT/s x 16 lanes, 128b/130b encoding = 31.5 GB/s).
DEFAULT_LINK_GB_S = 31.5
#: Candidate GPU counts when looking for the fewest that fit. Tensor parallelism needs a
#: power of two (it must divide the attention heads); layer splitting takes any count.
TENSOR_GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64)
LAYER_GPU_COUNTS = tuple(range(1, 17)) + (24, 32, 48, 64)


@dataclass(frozen=True)
class Assumptions:
    """The physics constants above as the formulas use them: numbers for the core, and, in the
    quote workbook, the named cells of its Assumptions sheet (same names), which a reader may
    change. The default instance holds the values above."""

    activation_bytes: Any = ACTIVATION_BYTES
    logit_bytes: Any = LOGIT_BYTES
    cuda_context_gib: Any = CUDA_CONTEXT_GIB
    nccl_buffers_gib: Any = NCCL_BUFFERS_GIB
    allreduce_latency_s: Any = ALLREDUCE_LATENCY_S
    allreduce_hop_latency_s: Any = ALLREDUCE_HOP_LATENCY_S
    default_link_gb_s: Any = DEFAULT_LINK_GB_S
    alltoall_latency_s: Any = ALLTOALL_LATENCY_S
    default_scale_out_gb_s: Any = DEFAULT_SCALE_OUT_GB_S
    share_v_default: Any = LLAMA2_7B_SHARES[0]
    share_down_default: Any = LLAMA2_7B_SHARES[1]
    share_o_default: Any = LLAMA2_7B_SHARES[2]
    act_dense_tp1: Any = ACTIVATION_FACTOR_DENSE[1]
    act_dense_tp2: Any = ACTIVATION_FACTOR_DENSE[2]
    act_dense_tp4: Any = ACTIVATION_FACTOR_DENSE[4]
    act_dense_tp8: Any = ACTIVATION_FACTOR_DENSE[8]
    act_moe_tp1: Any = ACTIVATION_FACTOR_MOE[1]
    act_moe_tp2: Any = ACTIVATION_FACTOR_MOE[2]
    act_moe_tp4: Any = ACTIVATION_FACTOR_MOE[4]
    act_moe_tp8: Any = ACTIVATION_FACTOR_MOE[8]
    hours_per_month: Any = HOURS_PER_MONTH
    state_bytes: Any = STATE_BYTES
    indexer_bytes_per_value: Any = INDEXER_BYTES_PER_VALUE


#: The constants as numbers.
ASSUMPTIONS = Assumptions()
