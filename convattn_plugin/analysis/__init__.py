"""Measuring attention: FLOPs, speed and memory, and what the gates look at.

* :mod:`.flops` -- FLOP counts that include gates, pooling and softmax
  (``count_flops``, ``flop_breakdown``).
* :mod:`.benchmark` -- params, FLOPs, latency, training-step time and peak memory of
  models against their plain baselines (``python tools/benchmark.py``).
* :mod:`.attention_maps` -- capture every attention module's gates and draw them
  with Grad-CAM (``python tools/vis_attention.py``).

Only :mod:`.flops` is imported here; the others pull in timm, matplotlib and tqdm
when they are imported.
"""
from .flops import FlopCount, count_flops, flop_breakdown, is_attention_module

__all__ = ['FlopCount', 'count_flops', 'flop_breakdown', 'is_attention_module']
