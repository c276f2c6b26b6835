"""Checks of constructor options and of inputs, with errors that say what is accepted.

Constructor checks run once, in plain Python. The input check runs in every forward and
is written so that ``torch.fx.symbolic_trace``, ``torch.jit.script``, ``torch.export``
and ``torch.compile`` accept it: it is a module-level function that FX records as one
call (``torch.fx.wrap``) instead of tracing into its branches, TorchScript compiles it
(it raises ``torch.jit.Error`` carrying the same message there), and under
``torch.export`` / ``torch.compile`` its tests on the number of dimensions and on the
channel count are static, so they add no guard on the height or width.
"""

import math
from typing import List, Optional

import torch

__all__ = [
    'MAX_KERNEL_SIZE', 'check_attention_input', 'check_channels', 'check_choice', 'check_flag',
    'check_int', 'check_number',
]

# Largest kernel size or dilation any option accepts. The papers use 7 (spatial gates), at
# most 9 (ECA's adaptive rule up to 2^17 channels) and 4 (BAM's dilation); the bound stops
# a typo such as 7000 before it allocates a kernel of millions of weights or pads a map
# by thousands of pixels.
MAX_KERNEL_SIZE = 63


def check_channels(channels: object, owner: str) -> int:
    """Return ``channels`` if it is a positive int, else raise a ``ValueError``."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f'{owner}: channels must be a positive int, got {channels!r}')
    return channels


def check_int(
        value: object,
        name: str,
        owner: str,
        minimum: int = 1,
        maximum: Optional[int] = None,
        odd: bool = False,
) -> int:
    """``value`` if it is an int (not a bool) in ``[minimum, maximum]`` (and odd if asked)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    ok = ok and (maximum is None or value <= maximum) and (not odd or value % 2 == 1)
    if not ok:
        if odd and minimum == 1:
            accepted = 'a positive odd int' + (f' (at most {maximum})' if maximum is not None else '')
        else:
            accepted = f'an int from {minimum} to {maximum}' if maximum is not None else f'an int >= {minimum}'
        raise ValueError(f'{owner}: {name} must be {accepted}, got {value!r}')
    return value


def check_number(
        value: object,
        name: str,
        owner: str,
        minimum: float = 0.0,
        maximum: Optional[float] = None,
        allow_minimum: bool = False,
) -> float:
    """``value`` if it is a finite int or float (not a bool) above ``minimum`` (at most ``maximum``).

    ``minimum`` itself is accepted only with ``allow_minimum=True``.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= minimum if allow_minimum else value > minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        low = f'>= {minimum}' if allow_minimum else f'> {minimum}'
        span = low if maximum is None else f'{low} and <= {maximum}'
        raise ValueError(f'{owner}: {name} must be a finite number {span}, got {value!r}')
    return float(value)


def check_flag(value: object, name: str, owner: str) -> bool:
    """``value`` if it is a bool (``0``/``1`` or strings are refused: they hide typos)."""
    if not isinstance(value, bool):
        raise ValueError(f'{owner}: {name} must be True or False, got {value!r}')
    return value


def check_choice(value: object, name: str, owner: str, choices: List[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f'{owner}: {name} must be one of {", ".join(map(repr, choices))}, got {value!r}')
    return value


@torch.fx.wrap
def check_attention_input(x: torch.Tensor, channels: int, owner: str) -> None:
    """Refuse anything but an ``(N, channels, H, W)`` tensor with ``H, W >= 1``."""
    if x.dim() != 4:
        raise ValueError(
            f'{owner} expects a 4-D input (N, C, H, W) with C={channels}, '
            f'got a {x.dim()}-D tensor of shape {list(x.shape)}')
    if x.shape[1] != channels:
        raise ValueError(
            f'{owner} was built for {channels} channels, '
            f'got an input with {x.shape[1]} channels (shape {list(x.shape)})')
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(
            f'{owner} needs a feature map with at least one position (H, W >= 1), '
            f'got an input of shape {list(x.shape)}')
