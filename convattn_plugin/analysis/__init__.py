"""Measuring attention: FLOPs, speed and memory, and what the gates look at.

Costs:

* :mod:`.flops` -- FLOP counts that include gates, pooling and softmax.
* :mod:`.model_spec` -- model names of the tools (``resnet50+cbam``, ``resnet50+timm:cbam``).
* :mod:`.benchmark` -- interleaved timing rounds per mode and paired ratios;
  :mod:`.bench_modes` (inference, training step, compiled), :mod:`.memory` (peak memory),
  :mod:`.machine` (where it ran), :mod:`.bench_report` (tables, files), :mod:`.bench_plot`,
  :mod:`.bench_session` (what ``tools/benchmark.py`` runs).
* :mod:`.model_table` -- the params/FLOPs table of docs/timm_models.md.

Where attention looks:

* :mod:`.attention_maps` -- capture every attention module's gates;
  :mod:`.grad_cam`; :mod:`.attention_plot` (the figure); :mod:`.map_weights` (which
  checkpoint files can be drawn); :mod:`.vis_session` (what ``tools/vis_attention.py`` runs).

Only :mod:`.flops` is imported here; the others pull in timm, matplotlib and tqdm
when they are imported.
"""
from .flops import FlopCount, count_flops, flop_breakdown, is_attention_module

__all__ = ['FlopCount', 'count_flops', 'flop_breakdown', 'is_attention_module']
