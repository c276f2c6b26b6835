"""A release's mmpretrain config: a closed schema, and the one reader and writer of it.

A config that comes with a downloaded release is input from outside, so it is read as data in
this schema, never executed (mmengine would run a Python config, follow ``_base_``, import
``custom_imports`` and ``_scope_``).

A release config is data that describes one inference model, never a program: it names the
classifier, the project's backbone, the neck, the head, the loss, the data preprocessor and
the test pipeline, each with the keys and value types it takes, and nothing else (:data:`SCHEMA`).
So it holds no ``_scope_`` (mmengine would import ``<scope>.registry``), no ``_base_`` (it would
read and run another file), no ``custom_imports`` but ``convattn_plugin.mm``, no classifier that
forwards keywords to another library (``TimmClassifier`` to ``timm.create_model``,
``HuggingFaceClassifier`` to transformers), no ``init_cfg`` or ``pretrained`` (paths and URLs),
and no data-set paths: the weights are the release's own checkpoint, and a data set to test on
is the user's (``--cfg-options test_dataloader.dataset.data_root=...``).

Everything outside the schema is refused with one line that names the key and what the
schema accepts there. :func:`read_config` is the one reader: every loader and tool of the
project that reads a release config calls it (``register_release``, ``load_mm_release``,
``verify_release``, ``build_mm_model``, ``tools/test.py``, ``python -m convattn_plugin.mm TOOL``). :func:`write_config` keeps, of a
training config, only the parts a release carries (:func:`release_subset`) and checks them
against the same schema before anything is written.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from ..layers import list_attentions

__all__ = ['UnsafeReleaseError', 'CUSTOM_IMPORTS', 'SCHEMA', 'check_release_config', 'release_subset', 'read_config', 'write_config',
           'config_from_file']

PathLike = Union[str, os.PathLike]
#: What a config needs to build the project's models (as configs/_base_/default_runtime.py).
CUSTOM_IMPORTS = dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)

Check = Callable[[Any, str], None]


class UnsafeReleaseError(ValueError):
    """A release names a path outside its folder, is not covered by its manifest, or holds a
    config outside the release config schema."""


# ---- value checks -------------------------------------------------------------------------

def _refuse(where: str, value: Any, accepted: str) -> None:
    raise UnsafeReleaseError(f'{where}={_short(value)} is not accepted in a release config; accepted: {accepted}')


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _boolean(value: Any, where: str) -> None:
    if type(value) is not bool:
        _refuse(where, value, 'true or false')


def _integer(low: Optional[int] = None, high: Optional[int] = None) -> Check:
    def check(value: Any, where: str) -> None:
        if type(value) is not int or (low is not None and value < low) or (high is not None and value > high):
            _refuse(where, value, f'an integer in [{low if low is not None else "-inf"}, '
                                  f'{high if high is not None else "inf"}]')
    return check


def _number(value: Any, where: str) -> None:
    if type(value) not in (int, float) or not math.isfinite(value):
        _refuse(where, value, 'a finite number')


def _choice(*choices: Any) -> Check:
    def check(value: Any, where: str) -> None:
        if type(value) not in (str, int, bool, type(None)) or value not in choices:
            _refuse(where, value, 'one of ' + ', '.join(map(repr, choices)))
    return check


def _name(value: Any, where: str) -> None:
    """A short plain identifier-like string (a kind's option such as ``'floor'``)."""
    if not isinstance(value, str) or not value or len(value) > 64 \
            or not value.replace('_', '').replace('-', '').isalnum():
        _refuse(where, value, 'a short name (letters, digits, "_", "-")')


def _optional(check: Check) -> Check:
    def optional(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)
    return optional


def _list_of(check: Check, min_len: int = 0, max_len: int = 4096) -> Check:
    def check_list(value: Any, where: str) -> None:
        if not isinstance(value, list) or not min_len <= len(value) <= max_len:
            _refuse(where, value, f'a list of {min_len} to {max_len} items')
        for i, item in enumerate(value):
            check(item, f'{where}[{i}]')
    return check_list


def _one_or_list(check: Check, max_len: int = 16) -> Check:
    def check_either(value: Any, where: str) -> None:
        if isinstance(value, list):
            _list_of(check, 1, max_len)(value, where)
        else:
            check(value, where)
    return check_either


def _scalar(value: Any, where: str) -> None:
    """An attention kind's option: a bool, number, short name or null, or a list of those."""
    if isinstance(value, list):
        _list_of(_scalar, 0, 64)(value, where)
    elif value is not None and type(value) is not bool:
        (_name if isinstance(value, str) else _number)(value, where)


def _kind_options(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        _refuse(where, value, 'a mapping of the attention kind\'s options to plain values')
    for key, item in value.items():
        _name(key, f'{where} key')
        _scalar(item, f'{where}.{key}')


# ---- the schema ---------------------------------------------------------------------------

_INTERPOLATION = _choice('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')
_IMAGE_BACKEND = _choice('cv2', 'pillow')

# Extra timm.create_model arguments a backbone may pass on: architecture options only (never
# pretrained / pretrained_cfg(_overlay) / checkpoint_path, which would load files or URLs).
_TIMM_KWARGS = {
    'attn_position': _name, 'in_chans': _integer(1, 64), 'channels': _list_of(_integer(1, 1 << 16), 1, 8),
    'drop_rate': _number, 'drop_path_rate': _number, 'mlp_ratio': _number,
    # One kind's options per stage (ECA's authors' kernel sizes): null or plain values only.
    'attn_stage_kwargs': _list_of(_optional(_kind_options), 1, 5),
}


def _mapping(keys: Mapping[str, Check], what: str) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _refuse(where, value, f'a mapping ({what})')
        for key, item in value.items():
            if key not in keys:
                raise UnsafeReleaseError(f'{where}: key {key!r} is not in the release config schema of {what}; '
                                         f'accepted keys: {", ".join(keys) or "none"}')
            keys[key](item, f'{where}.{key}')
    return check


def _typed(types: Mapping[str, Mapping[str, Check]], what: str) -> Check:
    """A dict whose ``type`` is one of ``types``, with that type's keys only."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _refuse(where, value, f'a mapping with type one of {", ".join(types)}')
        kind = value.get('type')
        if not isinstance(kind, str) or kind not in types:
            raise UnsafeReleaseError(f'{where}.type={_short(kind)} is not accepted in a release config; '
                                     f'a {what} there is one of: {", ".join(types)}')
        _mapping({'type': lambda v, w: None, **types[kind]}, f'{kind} ({what})')(value, where)
    return check


def _attention(value: Any, where: str) -> None:
    if value is not None and value not in list_attentions():
        _refuse(where, value, 'null or an attention kind: ' + ', '.join(list_attentions()))


def _preset(value: Any, where: str) -> None:
    kinds = '|'.join(map(re.escape, list_attentions()))
    if not isinstance(value, str) or not re.fullmatch(rf'(resnet\d+|vgg\d+(_bn)?)(_({kinds}))?', value):
        _refuse(where, value, 'a backbone preset name: resnet{depth}[_KIND] or vgg{depth}[_bn][_KIND]')


_STAGE_OPTIONS = {
    'attention': _attention, 'attn_kwargs': _optional(_kind_options),
    'attn_stages': _optional(_list_of(_integer(0, 4), 0, 5)), 'out_indices': _one_or_list(_integer(-5, 4), 5),
    'frozen_stages': _integer(-1, 5), 'norm_eval': _boolean, 'timm_kwargs': _optional(_mapping(_TIMM_KWARGS,
                                                                                              'timm_kwargs')),
}
_RESNET = {'depth': _choice(18, 34, 50, 101, 152), 'stem': _choice('imagenet', 'cifar'), **_STAGE_OPTIONS}
_VGG = {'depth': _choice(11, 13, 16, 19), 'with_bn': _boolean, **_STAGE_OPTIONS}
_BACKBONE = _typed({
    'ConvAttnResNet': _RESNET,
    'ConvAttnVGG': _VGG,
    # The preset sets depth, attention (and with_bn); stem is a ResNet option.
    'ConvAttnBackbone': {'arch': _preset, 'stem': _RESNET['stem'],
                         **{k: v for k, v in _STAGE_OPTIONS.items() if k != 'attention'}},
}, 'backbone of this project')

_REDUCTION = _choice('mean', 'sum', 'none')
_CLASS_WEIGHT = _optional(_list_of(_number, 1, 1 << 20))
_LOSS = _typed({
    'CrossEntropyLoss': {'use_sigmoid': _boolean, 'use_soft': _boolean, 'reduction': _REDUCTION,
                         'loss_weight': _number, 'class_weight': _CLASS_WEIGHT, 'pos_weight': _CLASS_WEIGHT},
    'LabelSmoothLoss': {'label_smooth_val': _number, 'num_classes': _optional(_integer(1)),
                        'use_sigmoid': _optional(_boolean), 'mode': _choice('original', 'classy_vision', 'multi_label'),
                        'reduction': _REDUCTION, 'loss_weight': _number, 'class_weight': _CLASS_WEIGHT,
                        'pos_weight': _CLASS_WEIGHT},
}, 'loss')
_HEAD_COMMON = {'num_classes': _integer(1, 1_000_000), 'in_channels': _integer(1), 'loss': _LOSS,
                'topk': _one_or_list(_integer(1), 8), 'cal_acc': _boolean}
_HEAD = _typed({
    'LinearClsHead': _HEAD_COMMON,
    'StackedLinearClsHead': {**_HEAD_COMMON, 'mid_channels': _list_of(_integer(1), 1, 8),
                             'dropout_rate': _number,
                             'norm_cfg': _optional(_typed({'BN1d': {}, 'LN': {}}, 'norm layer')),
                             'act_cfg': _optional(_typed({'ReLU': {}, 'GELU': {}, 'SiLU': {}}, 'activation'))},
}, 'head')
_NECK = _typed({'GlobalAveragePooling': {'dim': _choice(1, 2, 3)}}, 'neck')
_PREPROCESSOR = _typed({'ClsDataPreprocessor': {
    'num_classes': _optional(_integer(1)), 'mean': _optional(_list_of(_number, 1, 4)),
    'std': _optional(_list_of(_number, 1, 4)), 'to_rgb': _boolean, 'to_onehot': _boolean,
    'pad_size_divisor': _integer(1, 1024), 'pad_value': _number, 'batch_augments': _choice(None),
}}, 'data preprocessor')
_CLASSIFIER = _typed({'ImageClassifier': {
    'backbone': _BACKBONE, 'neck': _optional(_NECK), 'head': _HEAD, 'data_preprocessor': _optional(_PREPROCESSOR),
}}, 'classifier')

_SIZE = _one_or_list(_integer(1, 1 << 14), 2)
_LOAD = {'to_float32': _boolean, 'color_type': _choice('color', 'grayscale', 'unchanged'),
         'imdecode_backend': _IMAGE_BACKEND, 'ignore_empty': _boolean}
_TRANSFORM = _typed({
    'LoadImageFromFile': _LOAD,
    'LoadImageUnlessGiven': _LOAD,
    'Resize': {'scale': _SIZE, 'keep_ratio': _boolean, 'backend': _IMAGE_BACKEND, 'interpolation': _INTERPOLATION},
    'ResizeEdge': {'scale': _integer(1, 1 << 14), 'edge': _choice('short', 'long', 'width', 'height'),
                   'backend': _IMAGE_BACKEND, 'interpolation': _INTERPOLATION},
    'CenterCrop': {'crop_size': _SIZE},
    'PackInputs': {'input_key': _choice('img'), 'algorithm_keys': _list_of(_name, 0, 16),
                   'meta_keys': _list_of(_name, 0, 32)},
}, 'test transform')
_PIPELINE = _list_of(_TRANSFORM, 1, 32)
_DATASET_KEYS = {'split': _name, 'test_mode': _boolean, 'with_label': _boolean, 'pipeline': _PIPELINE}
_DATASET = _typed({name: _DATASET_KEYS for name in (
    'SklearnDigits', 'FashionMNISTFolder', 'FashionMNIST', 'MNIST', 'CIFAR10', 'CIFAR100', 'ImageNet',
    'CustomDataset')}, 'test data set (its data_root is given when testing, never by a release)')
_DATALOADER = _mapping({
    'batch_size': _integer(1, 1 << 16), 'num_workers': _integer(0, 256), 'persistent_workers': _boolean,
    'pin_memory': _boolean, 'drop_last': _boolean, 'dataset': _DATASET,
    'sampler': _typed({'DefaultSampler': {'shuffle': _boolean}}, 'sampler'),
}, 'test_dataloader')
_EVALUATOR = _one_or_list(_typed({'Accuracy': {'topk': _one_or_list(_integer(1), 8)}}, 'evaluator'), 4)


def _custom_imports(value: Any, where: str) -> None:
    if value != CUSTOM_IMPORTS:
        _refuse(where, value, repr(CUSTOM_IMPORTS))


#: Every top-level key a release config may hold, and the check of its value.
SCHEMA: dict[str, Check] = {
    'model': _CLASSIFIER,
    'data_preprocessor': _optional(_PREPROCESSOR),
    'test_pipeline': _PIPELINE,
    'test_dataloader': _DATALOADER,
    'test_evaluator': _EVALUATOR,
    'test_cfg': _mapping({}, 'test_cfg'),
    'default_scope': _choice('mmpretrain'),
    'custom_imports': _custom_imports,
}


def check_release_config(data: Any, where: str = 'release config') -> None:
    """Refuse ``data`` unless it fits :data:`SCHEMA` (``model`` is required).

    Raises:
        UnsafeReleaseError: One line naming the first key or value outside the schema.
    """
    if not isinstance(data, dict):
        raise UnsafeReleaseError(f'{where}: a release config is a JSON object, not a {type(data).__name__}')
    if 'model' not in data:
        raise UnsafeReleaseError(f'{where}: a release config needs a model')
    _mapping(SCHEMA, 'a release config (top level)')(data, where)


# ---- from a training config to a release config ---------------------------------------------

_DROPPED_MODEL_KEYS = ('init_cfg', 'pretrained', 'train_cfg')  # weights come from the checkpoint


def _without(cfg: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in keys}


def release_subset(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a training config (plain dict) that a release carries.

    The model without its ``init_cfg`` / ``pretrained`` / ``train_cfg`` (the release's checkpoint
    holds the weights; ``train_cfg`` only configures training-time batch augments), the data
    preprocessor, the test pipeline, and the test loader, evaluator and scope; the test data
    set keeps its type, split and pipeline but not its paths. Training parts (optimizer,
    schedules, hooks, the training and validation loaders, the runtime) are left out.
    """
    model = dict(cfg['model']) if isinstance(cfg.get('model'), Mapping) else cfg.get('model')
    if isinstance(model, dict):
        model = _without(model, _DROPPED_MODEL_KEYS)
        for part in ('backbone', 'neck', 'head'):
            if isinstance(model.get(part), Mapping):
                model[part] = _without(model[part], ('init_cfg',))
    out: dict[str, Any] = {'model': model}
    for key in ('data_preprocessor', 'test_pipeline', 'test_evaluator'):
        if cfg.get(key) is not None:
            out[key] = cfg[key]
    loader = cfg.get('test_dataloader')
    if isinstance(loader, Mapping):
        loader = {k: v for k, v in loader.items() if k in ('batch_size', 'num_workers', 'persistent_workers',
                                                            'pin_memory', 'drop_last', 'dataset', 'sampler')}
        if isinstance(loader.get('dataset'), Mapping):
            loader['dataset'] = {k: v for k, v in loader['dataset'].items()
                                 if k in ('type', 'split', 'test_mode', 'with_label', 'pipeline')}
        out['test_dataloader'] = loader
        out['test_cfg'] = {}
    out['default_scope'] = 'mmpretrain'
    out['custom_imports'] = dict(CUSTOM_IMPORTS)
    return out


def write_config(cfg: Any, path: PathLike) -> Path:
    """Write the release part of an mmengine config (``Config`` or dict) as JSON data.

    :func:`release_subset` picks the parts; they are checked against :data:`SCHEMA` before the
    file is written, so a release never holds what :func:`read_config` refuses.

    Raises:
        UnsafeReleaseError: A value that is not JSON data, or a part outside the schema (say,
            a classifier or backbone type a release cannot carry).
    """
    path = Path(path)
    plain = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    data = json.loads(json.dumps(release_subset(plain), default=_not_json(path)))
    check_release_config(data, path.name)
    path.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')  # into a release's staging folder
    return path


def _not_json(path: PathLike):
    def default(obj: Any) -> Any:
        raise UnsafeReleaseError(f'{path}: the config holds {obj!r} ({type(obj).__name__}), which is not JSON data; '
                                 'a release config holds names, numbers, strings, lists and dicts only')
    return default


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise UnsafeReleaseError(f'key(s) {repeated} appear more than once in one object; a release config '
                                 'names each key once')
    return dict(pairs)


def read_config(path: PathLike):
    """A release's JSON config as an mmengine ``Config``, read without running anything from it.

    Raises:
        UnsafeReleaseError: Not a ``.json`` file, not JSON, or anything outside :data:`SCHEMA`.
    """
    from mmengine.config import Config

    path = Path(path)
    if path.suffix != '.json':
        raise UnsafeReleaseError(f'{path}: a release config is a .json file (data); a {path.suffix or "suffix-less"} '
                                 'config would be executed or read with an unsafe loader, so it is refused')
    try:
        data = json.loads(path.read_text(encoding='utf-8'), object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise UnsafeReleaseError(f'{path}: not valid JSON ({e})') from e
    except UnsafeReleaseError as e:
        raise UnsafeReleaseError(f'{path}: {e}') from None
    check_release_config(data, path.name)
    return Config(data, filename=None)


def _no_constant(name: str) -> Any:
    raise UnsafeReleaseError(f'{name} is not JSON data; a release config holds finite numbers only')


def config_from_file(path: PathLike, **fromfile_kwargs: Any):
    """An mmengine ``Config`` from a file, where a ``.json`` file is always a release config.

    ``.json`` goes through :func:`read_config` (the schema; nothing is imported, no ``_base_``
    is followed); any other file is the user's own config, read by ``Config.fromfile`` as
    mmpretrain's tools read it (a Python config is a program: run only your own). The
    project's ``tools/test.py`` and ``python -m convattn_plugin.mm TOOL`` read configs here.
    """
    from mmengine.config import Config

    if str(path).endswith('.json'):
        return read_config(path)
    return Config.fromfile(str(path), **fromfile_kwargs)
