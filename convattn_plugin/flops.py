"""FLOP counts that include what attention adds: gates, pooling, softmax, products.

mmpretrain's ``get_flops.py`` (fvcore-style) counts convolutions and matrix products
only and drops ``sigmoid``, ``mul``, ``mean`` and ``amax``: the very operations a
channel or spatial gate consists of. This module counts them on top of PyTorch's own
counter, :class:`torch.utils.flop_counter.FlopCounterMode`, by passing formulas for
the element-wise, reduction, pooling, normalisation and softmax operators through its
``custom_mapping`` argument.

What one FLOP is (one unit everywhere):

* Convolution, linear, ``mm``/``bmm``, attention products: torch's formulas, **one
  multiply-add = 2 FLOPs** (``2 * m * n * k`` for a matrix product). Tables of MACs
  (timm, fvcore, mmpretrain) give half of this part: ``FlopCount.macs``.
* Element-wise arithmetic (``add``, ``sub``, ``mul``, ``div``, ``pow``) and every
  activation (``relu``, ``sigmoid``, ``hardswish``, ``gelu``, ...): 1 FLOP per
  output element, a transcendental function included; ``addcmul``/``addcdiv``: 2.
* Reductions (``mean``, ``sum``, ``amax``, ``amin``, ``max``, ``min``): 1 FLOP per
  input element. Average/max pooling: one per window element of each output;
  adaptive average pooling: 1 per input element.
* ``softmax``: 5 FLOPs per element (max, subtract, exp, sum, divide). Fused attention
  (``scaled_dot_product_attention``): as its unfused math: scaling ``q`` and ``k`` (1
  per element), the two products, a softmax over the scores.
* Normalisation: BatchNorm in eval mode 2 per element (folded scale and shift);
  BatchNorm with batch statistics, LayerNorm and GroupNorm 7 (mean 1, variance 2,
  normalise 2, affine 2).
* Data movement (``cat``, ``view``, ``permute``, copies) costs 0 FLOPs.

Backward operators are counted only if the backward pass runs inside the counter
(``count_flops(..., backward=True)``); the formulas above then apply to the
backward's element-wise operators too (``*_backward`` activations: 2 per element).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from math import prod
from typing import Any, Callable, Iterable, Sequence, Union

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .layers.helpers import AttentionModule

__all__ = [
    'FlopCount', 'count_flops', 'flop_breakdown', 'flop_formulas', 'is_attention_module',
    'TIMM_ATTENTION_CLASSES',
]

aten = torch.ops.aten

# Attention classes of timm (timm/layers/create_attn.py) recognised by name, so this
# module does not import timm.
TIMM_ATTENTION_CLASSES = frozenset({
    'SEModule', 'EffectiveSEModule', 'SqueezeExcite', 'EcaModule', 'CecaModule', 'GatherExcite',
    'GlobalContext', 'CbamModule', 'LightCbamModule', 'SelectiveKernel', 'SplitAttn',
    'NonLocalAttn', 'BatNonLocalAttn',
})


def is_attention_module(module: nn.Module) -> bool:
    """Whether ``module`` is an attention kind: one of ours or one of timm's."""
    if isinstance(module, AttentionModule):
        return True
    cls = type(module)
    return cls.__module__.startswith('timm.layers') and cls.__name__ in TIMM_ATTENTION_CLASSES


# ---------------------------------------------------------------------------------------
# Formulas. FlopCounterMode calls them with every tensor argument replaced by its shape,
# non-tensor arguments as they are, and ``out_shape`` (the output's shape, or a tuple of
# shapes for several outputs).
# ---------------------------------------------------------------------------------------

def _numel(shape: Any) -> int:
    return int(prod(shape)) if isinstance(shape, (tuple, list, torch.Size)) else 1


def _first_shape(out_shape: Any) -> Any:
    # Ops with several outputs (max.dim, batch norm, ...) give a tuple of shapes.
    if isinstance(out_shape, (tuple, list)) and out_shape and isinstance(out_shape[0], (tuple, list, torch.Size)):
        return out_shape[0]
    return out_shape


def _per_output(factor: int) -> Callable[..., int]:
    def formula(*args, out_shape=None, **kwargs) -> int:
        return factor * _numel(_first_shape(out_shape))
    return formula


def _per_input(factor: int) -> Callable[..., int]:
    def formula(x_shape, *args, out_shape=None, **kwargs) -> int:
        return factor * _numel(x_shape)
    return formula


def _pool_flop(x_shape, kernel_size, *args, out_shape=None, **kwargs) -> int:
    # One operation per window element of each output position.
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    if len(k) == 1:
        k = tuple(k) * (len(x_shape) - 2)
    return _numel(_first_shape(out_shape)) * int(prod(k))


def _batch_norm_flop(x_shape, weight, bias, running_mean, running_var, training, *args, out_shape=None,
                     **kwargs) -> int:
    return (7 if training else 2) * _numel(x_shape)


def _batch_norm_no_training_flop(x_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _numel(x_shape)


def _sdpa_cpu_flop(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    # (..., L, E) x (..., S, E) -> scores (..., L, S) -> (..., L, Ev); leading dims are batch.
    # The same total as PyTorch's math path (what runs on 'meta'): q and k scaled, two
    # products, a softmax over the scores.
    *batch, length, e = q_shape
    s, ev = k_shape[-2], v_shape[-1]
    b = int(prod(batch))
    return b * (length * e + s * e) + 2 * b * length * s * e + 2 * b * length * s * ev + 5 * b * length * s


def _sdpa_cpu_backward_flop(grad_shape, q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    # Recompute scores, and four products for dQ, dK, dV, dP; softmax backward ~4 per score.
    *batch, length, e = q_shape
    s, ev = k_shape[-2], v_shape[-1]
    b = int(prod(batch))
    return 2 * b * length * s * (3 * e + 2 * ev) + 10 * b * length * s


def flop_formulas() -> dict:
    """The formulas this module adds to ``FlopCounterMode``'s, keyed by aten operator."""
    one_out = _per_output(1)
    table: dict = {}

    def put(ops: Iterable[str], formula: Callable[..., int]) -> None:
        for name in ops:
            op = getattr(aten, name, None)
            if op is not None:
                table[op] = formula

    put(['add', 'add_', 'sub', 'sub_', 'rsub', 'mul', 'mul_', 'div', 'div_', 'pow', 'pow_',
         'neg', 'reciprocal', 'sqrt', 'rsqrt', 'exp', 'log', 'abs', 'clamp', 'clamp_', 'clamp_min',
         'clamp_min_', 'maximum', 'minimum', 'where',
         'relu', 'relu_', 'sigmoid', 'sigmoid_', 'tanh', 'tanh_', 'hardsigmoid', 'hardsigmoid_',
         'hardswish', 'hardswish_', 'silu', 'silu_', 'gelu', 'gelu_', 'leaky_relu', 'leaky_relu_',
         'elu', 'elu_', 'mish', 'mish_', 'hardtanh', 'hardtanh_', 'threshold', 'threshold_'], one_out)
    put(['addcmul', 'addcmul_', 'addcdiv', 'addcdiv_', 'lerp', 'lerp_'], _per_output(2))
    put(['threshold_backward', 'sigmoid_backward', 'tanh_backward', 'hardswish_backward',
         'hardsigmoid_backward', 'silu_backward', 'gelu_backward', 'leaky_relu_backward',
         'elu_backward', 'mish_backward'], _per_output(2))
    put(['mean', 'sum', 'amax', 'amin', 'max', 'min', 'var', 'std', 'logsumexp',
         '_adaptive_avg_pool2d', 'adaptive_avg_pool2d', 'adaptive_max_pool2d'], _per_input(1))
    put(['avg_pool2d', 'max_pool2d', 'max_pool2d_with_indices'], _pool_flop)
    put(['_softmax', '_safe_softmax', '_log_softmax'], _per_input(5))
    put(['_softmax_backward_data', '_log_softmax_backward_data'], _per_output(4))
    put(['native_batch_norm', '_native_batch_norm_legit_functional', 'cudnn_batch_norm',
         'miopen_batch_norm'], _batch_norm_flop)
    put(['_native_batch_norm_legit_no_training'], _batch_norm_no_training_flop)
    put(['_native_batch_norm_legit'], lambda x_shape, w, b, rm, rv, training, *a, out_shape=None, **k:
        (7 if training else 2) * _numel(x_shape))
    put(['native_layer_norm', 'native_group_norm'], _per_input(7))
    put(['native_batch_norm_backward', 'native_layer_norm_backward', 'native_group_norm_backward'],
        lambda grad_shape, *a, out_shape=None, **k: 7 * _numel(grad_shape))
    # torch's registry covers the CUDA attention kernels, not the CPU one.
    put(['_scaled_dot_product_flash_attention_for_cpu'], _sdpa_cpu_flop)
    put(['_scaled_dot_product_flash_attention_for_cpu_backward'], _sdpa_cpu_backward_flop)
    return table


# Categories for the breakdown: the multiply-add operators (counted by torch itself).
_MAC_OPS = frozenset(str(op) for op in (
    aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten.convolution, aten._convolution,
    aten.convolution_backward, aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_flash_attention, aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention,
))


@dataclass
class FlopCount:
    """A model's FLOPs for one input, split three ways.

    Attributes:
        total: Every counted FLOP (see the module docstring for the unit).
        by_op: FLOPs per aten operator name (``'aten.convolution'``, ``'aten.sigmoid'``, ...).
        attention: FLOPs inside attention modules (ours and timm's), outer-most ones only.
        attention_modules: How many attention modules ran.
        by_module: FLOPs per attention module, by its qualified name in the model.
    """
    total: int
    by_op: dict[str, int] = field(default_factory=dict)
    attention: int = 0
    attention_modules: int = 0
    by_module: dict[str, int] = field(default_factory=dict)

    @property
    def matmul(self) -> int:
        """FLOPs of convolutions, linear layers and matrix/attention products."""
        return sum(v for k, v in self.by_op.items() if k in _MAC_OPS)

    @property
    def elementwise(self) -> int:
        """FLOPs of everything else: element-wise ops, reductions, pooling, norms, softmax."""
        return self.total - self.matmul

    @property
    def macs(self) -> float:
        """``matmul / 2``: comparable with MAC tables (timm, fvcore, mmpretrain)."""
        return self.matmul / 2


def _as_input(model: nn.Module, inputs: Union[Sequence[int], torch.Tensor]) -> torch.Tensor:
    if isinstance(inputs, torch.Tensor):
        return inputs
    if any(t.is_meta for t in model.parameters()):
        return torch.empty(*inputs, device='meta')
    try:
        p = next(model.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device('cpu'), torch.float32
    return torch.randn(*inputs, device=device, dtype=dtype)


def flop_breakdown(
        model: nn.Module,
        input_size: Union[Sequence[int], torch.Tensor] = (1, 3, 224, 224),
        backward: bool = False,
        attention_filter: Callable[[nn.Module], bool] = is_attention_module,
        on_meta: bool = True,
) -> FlopCount:
    """Count ``model``'s FLOPs on one input, attention operators included.

    Args:
        model: Any module. Counted in its current mode (``eval()`` for inference
            numbers: BatchNorm then counts 2 per element); it is not modified.
        input_size: Shape of a random input, or the input tensor itself.
        backward: Also run and count the backward pass of ``output.sum()``.
        attention_filter: Which modules count as attention for ``FlopCount.attention``.
        on_meta: Count on a copy of the model on the ``meta`` device (shapes only, no
            arithmetic, so much faster than computing); falls back to a real run where an operator has no
            meta kernel or the input is a real tensor.

    Returns:
        A :class:`FlopCount`. Its ``total`` is what :func:`count_flops` returns.
    """
    if on_meta and not isinstance(input_size, torch.Tensor):
        try:
            meta_model = copy.deepcopy(model).to('meta')
        except Exception:  # noqa: BLE001 - a module that cannot be copied or moved: count for real
            meta_model = None
        if meta_model is not None:
            try:
                return _count(meta_model, torch.empty(*input_size, device='meta'), backward, attention_filter)
            except Exception:  # noqa: BLE001 - no meta kernel (e.g. autocast on 'meta'): count for real
                pass
    return _count(model, _as_input(model, input_size), backward, attention_filter)


def _count(
        model: nn.Module,
        x: torch.Tensor,
        backward: bool,
        attention_filter: Callable[[nn.Module], bool],
) -> FlopCount:
    counter = FlopCounterMode(display=False, depth=None, custom_mapping=flop_formulas())
    grad_ctx = torch.enable_grad() if backward else torch.no_grad()
    with grad_ctx, counter:
        out = model(x)
        if backward:
            out = out[0] if isinstance(out, (tuple, list)) else out
            out.float().sum().backward()
    counts = counter.get_flop_counts()
    by_op = {str(k): int(v) for k, v in counts.get('Global', {}).items() if v}

    # FlopCounterMode's ModuleTracker names a module '<RootClass>.<qualified name>'.
    root = type(model).__name__
    by_module: dict[str, int] = {}
    attention_names: list[str] = []
    for name, module in model.named_modules():
        if name and attention_filter(module):
            if any(name.startswith(outer + '.') for outer in attention_names):
                continue  # an attention module nested inside another is already counted
            attention_names.append(name)
            by_module[name] = int(sum(counts.get(f'{root}.{name}', {}).values()))
    if attention_filter(model):
        by_module = {'': int(sum(counts.get(root, {}).values()))}
    return FlopCount(
        total=int(sum(by_op.values())), by_op=by_op, attention=sum(by_module.values()),
        attention_modules=len(by_module), by_module=by_module)


def count_flops(
        model: nn.Module,
        input_size: Union[Sequence[int], torch.Tensor] = (1, 3, 224, 224),
        backward: bool = False,
) -> int:
    """Total FLOPs of one forward pass (and backward, if asked), attention ops included.

    One multiply-add is 2 FLOPs (PyTorch's convention); see the module docstring for
    element-wise operators. Divide :attr:`FlopCount.matmul` by 2 for MACs.
    """
    return flop_breakdown(model, input_size, backward=backward).total
