"""Measuring attention: FLOPs, speed and memory, and what the gates look at.

Costs:

* :mod:`convattn_plugin.flops` -- FLOP counts that include gates, pooling and softmax (at the
  bottom of the package: releases count FLOPs for their cards too; re-exported here).
* :mod:`.model_spec` -- model names of the tools (``resnet50+cbam``, ``resnet50+timm:cbam``).
* :mod:`.benchmark` -- interleaved timing rounds per mode and paired ratios;
  :mod:`.bench_modes` (what each mode times: inference, training step, compiled, the
  attention alone; peak memory), :mod:`.bench_report` (tables, files, the figure, and the
  session ``tools/benchmark.py`` runs); where it ran: :mod:`convattn_plugin.machine`.
* :mod:`.model_table` -- the params/FLOPs table of docs/timm_models.md.

Where attention looks:

* :mod:`.attention_maps` -- capture every attention module's gates;
  :mod:`.grad_cam`; :mod:`.attention_plot` (the figure, and what ``tools/vis_attention.py``
  runs); :mod:`.map_weights` (which checkpoint files can be drawn).

Only the FLOP counter is imported here; the others pull in timm, matplotlib and tqdm
when they are imported.
"""
from ..flops import FlopCount, count_flops, flop_breakdown, is_attention_module

__all__ = ['FlopCount', 'count_flops', 'flop_breakdown', 'is_attention_module']
