"""Publish and convert trained models between mmpretrain and timm (needs the ``mm`` extra).

One training run in mmpretrain becomes one release that timm users and mmpretrain users
load with the same predictions:

* :func:`publish` (``tools/publish_model.py``): training checkpoint + config -> release
  folder: the mmpretrain checkpoint named with its sha256, the timm / Hugging Face Hub
  folder (``config.json``, ``model.safetensors``, ``README.md`` model card) and a
  ``metafile.yml`` entry; ``push=True`` uploads with timm's ``push_to_hf_hub``.
* :func:`convert_mm_to_timm` / :func:`convert_timm_to_mm` (``tools/convert.py``): the
  two layouts, for the ResNet and VGG families (:mod:`.layout` has the key map and what
  cannot convert).
* :func:`load_mm_release`, :func:`timm_create_kwargs`, :func:`verify_release`,
  :func:`register_release`: read a release back (hash checked, keys checked).

Every load is ``weights_only=True`` or safetensors; a checkpoint of another architecture
is refused with :class:`ArchitectureMismatchError`, which lists the keys.
"""
from .convert import (ModelPair, build_mm_model, check_same_logits, convert_mm_to_timm, convert_timm_to_mm,
                      extract_state_dict, pair_from_mm, pair_from_timm, read_checkpoint, sanitize_meta,
                      save_mm_checkpoint, write_mm_files, write_timm_folder)
from .keys import ArchitectureMismatchError, check_state_dict, diff_state_dict, load_state_dict_strict
from .layout import (ConversionError, TimmSpec, mm_to_timm_state_dict, spec_from_mm_model, spec_from_timm,
                     timm_data_config, timm_to_mm_state_dict)
from .load import find_release_files, load_mm_release, load_timm_release, timm_create_kwargs, verify_release
from .metafile import register_release
from .model_card import build_model_card
from .publish import PublishError, Release, publish, read_metrics

__all__ = [
    'ArchitectureMismatchError', 'ConversionError', 'ModelPair', 'PublishError', 'Release', 'TimmSpec',
    'build_mm_model', 'build_model_card', 'check_same_logits', 'check_state_dict', 'convert_mm_to_timm',
    'convert_timm_to_mm', 'diff_state_dict', 'extract_state_dict', 'find_release_files', 'load_mm_release',
    'load_state_dict_strict', 'load_timm_release', 'mm_to_timm_state_dict', 'pair_from_mm', 'pair_from_timm',
    'publish', 'read_checkpoint', 'read_metrics', 'register_release', 'sanitize_meta', 'save_mm_checkpoint',
    'spec_from_mm_model', 'spec_from_timm', 'timm_create_kwargs', 'timm_data_config', 'timm_to_mm_state_dict',
    'verify_release', 'write_mm_files', 'write_timm_folder',
]
