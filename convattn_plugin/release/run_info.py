"""What a release says about its training run: metrics from the logs, data set, FLOPs, collection."""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .. import __version__
from ..flops import flop_breakdown
from ..layers import get_attn_info
from .model_pair import ModelPair

__all__ = ['read_metrics', 'dataset_name', 'count_model_flops', 'collection_of']

PathLike = Union[str, os.PathLike]
_RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
# Display names of the data sets of the project's configs (metafile "Training Data").
_DATASET_NAMES = {'SklearnDigits': 'scikit-learn digits', 'CIFAR10': 'CIFAR-10', 'CIFAR100': 'CIFAR-100',
                  'ImageNet': 'ImageNet-1k'}


def _accuracy_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and any(k.startswith('accuracy/') for k in rec):
            records.append(rec)
    return records


def read_metrics(work_dir: PathLike, experiment_name: Optional[str] = None) -> tuple[dict[str, float], Optional[Path]]:
    """The last ``accuracy/*`` values mmengine logged for a run.

    mmengine writes ``<work_dir>/<timestamp>/vis_data/scalars.json`` during training (one JSON
    record per line, validation ones with ``accuracy/top1``) and ``<timestamp>/<timestamp>.json``
    for a test run. The run the checkpoint came from (its ``meta.experiment_name`` ends with
    the timestamp) is read first, then the other runs, newest first.

    Returns:
        ``({'accuracy/top1': 97.5, ...}, the file)``, or ``({}, None)`` when no run logged any.
    """
    work_dir = Path(work_dir)
    runs = sorted((d for d in work_dir.iterdir() if d.is_dir() and _RUN_DIR.match(d.name)),
                  reverse=True) if work_dir.is_dir() else []
    stamp = experiment_name[-15:] if experiment_name else None
    runs.sort(key=lambda d: d.name != stamp)  # stable: the checkpoint's run first, then newest first
    for run in runs:
        for f in (run / 'vis_data' / 'scalars.json', run / 'vis_data' / f'{run.name}.json', run / f'{run.name}.json'):
            records = _accuracy_records(f) if f.is_file() else []
            if records:
                return {k: float(v) for k, v in records[-1].items() if k.startswith('accuracy/')}, f
    return {}, None


def dataset_name(cfg: Mapping[str, Any]) -> Optional[str]:
    """Display name of the config's training data set (``'scikit-learn digits'``, ``'CIFAR-10'``)."""
    for loader in ('train_dataloader', 'test_dataloader'):
        kind = ((cfg.get(loader) or {}).get('dataset') or {}).get('type')
        if kind:
            return _DATASET_NAMES.get(kind, kind)
    return None


def count_model_flops(model: Any, input_size: tuple[int, ...]) -> tuple[Optional[float], Optional[float]]:
    """``(MACs, FLOPs)`` of one image, from :mod:`convattn_plugin.flops`.

    MACs are what timm's and mmpretrain's tables call FLOPs (convolutions and products);
    FLOPs also count the element-wise operations of the attention gates.
    """
    try:
        count = flop_breakdown(model.eval(), (1, *input_size))
    except Exception as e:  # noqa: BLE001 - statistics must not block a release
        warnings.warn(f'FLOP count failed ({type(e).__name__}: {e}); the card and metafile leave FLOPs out')
        return None, None
    return float(count.macs), float(count.total)


def collection_of(pair: ModelPair) -> dict[str, Any]:
    backbone = pair.mm_model.backbone
    arch = ['ResNet' if pair.spec.family == 'resnet' else 'VGG']
    paper = None
    if backbone.attention:
        info = get_attn_info(backbone.attention)
        arch.append(info.paper or backbone.attention)
        if info.arxiv:
            paper = {'URL': f'https://arxiv.org/abs/{info.arxiv}', 'Title': info.paper or backbone.attention}
    collection: dict[str, Any] = {'Name': f'{pair.spec.model_name} (convattn_plugin)',
                                  'Metadata': {'Architecture': arch}}
    if paper:
        collection['Paper'] = paper
    collection['Code'] = {'URL': 'convattn_plugin', 'Version': _version()}
    return collection


def _version() -> str:
    return f'v{__version__}'
