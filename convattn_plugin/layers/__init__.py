"""Attention kinds in pure torch, one per file, and the registry that builds them.

Nothing here imports timm, mmengine, mmcv or mmpretrain: the adapters that register
these kinds into those frameworks live elsewhere in the package. The kinds' hand-written fast
paths live in :mod:`.fast_paths`; ``with plain_forward():`` turns all of them off.
"""
from .attention_ops import dot_product_attention
from .fast_paths import FAST_PATHS, fast_paths_enabled, gate_derivative, plain_forward, register_gate_derivative
from .helpers import AttentionModule, GateBatchNorm2d, GatingModule, check_channels, reduced_channels
from .registry import (
    AttentionInfo, accepted_options, create_attn, get_attn, get_attn_info, list_attentions, register_attention,
)

# Importing each kind's module registers it.
from .bam import BottleneckAttention
from .cbam import CBAM, SpatialGate
from .convgate import ConvGate
from .coord import CoordAttention
from .dualattn import DualAttention
from .eca import EfficientChannelAttn
from .gc import GlobalContext
from .localattn import LocalAttention
from .non_local import NonLocal2d
from .se import SqueezeExcite
from .selfattn import SelfAttention2d
from .simam import SimAM
from .triplet import TripletAttention
from .scse import ChannelSpatialSE
from .sge import SpatialGroupEnhance
from .shuffle import ShuffleAttention
from .ema import EfficientMultiScaleAttention
from .fca import FrequencyChannelAttention
from .psa import PolarizedSelfAttention
from .sk import SelectiveKernel
from .gam import GlobalAttentionMechanism
