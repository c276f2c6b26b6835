"""Publish and convert trained models between mmpretrain and timm (needs the ``mm`` extra).

One training run in mmpretrain becomes one release that timm, transformers and mmpretrain
users load with the same predictions:

* :func:`publish` (``tools/publish_model.py``): training checkpoint + config -> release
  folder, written beside the target and moved into place only when complete and verified:
  the mmpretrain checkpoint named with its sha256, the config as JSON data, the timm /
  Hugging Face Hub folder (``config.json``, ``model.safetensors``, ``README.md`` model card),
  a ``metafile.yml`` entry and a ``manifest.json`` of sha256 hashes; ``push=True`` uploads
  the timm folder to the Hugging Face Hub.
* :func:`convert_mm_to_timm` / :func:`convert_timm_to_mm` (``tools/convert.py``): the
  two layouts, for the ResNet and VGG families (:mod:`.key_mapping`: keys and what cannot
  convert; :mod:`.preprocessing`).
* :func:`load_mm_release`, :func:`timm_create_kwargs`, :func:`verify_release`,
  :func:`register_release`: read a release back (paths confined to the release folder,
  manifest and hashes checked, config read as data, keys checked).

Every load is ``weights_only=True`` or safetensors and runs no code from a release; a
checkpoint of another architecture is refused with :class:`ArchitectureMismatchError`, which
lists the keys.
"""
from .checkpoint_io import extract_state_dict, read_checkpoint, sanitize_meta, save_mm_checkpoint
from .convert import (build_mm_model, check_same_logits, convert_mm_to_timm, convert_timm_to_mm, pair_from_mm,
                      pair_from_timm, write_mm_files, write_timm_folder)
from .key_mapping import (ConversionError, TimmSpec, mm_to_timm_state_dict, spec_from_mm_model, spec_from_timm,
                          timm_to_mm_state_dict)
from ..models.pretrained import ArchitectureMismatchError, check_state_dict, diff_state_dict, load_state_dict_strict
from .load import find_release_files, load_mm_release, load_timm_release, timm_create_kwargs, verify_release
from .metafile import register_release
from .model_card import build_model_card
from .model_pair import ModelPair
from .preprocessing import mm_preprocessing, timm_data_config
from .publish import PublishError, Release, publish
from ..mm.config_schema import read_config, release_subset
from .release_files import UnsafeReleaseError
from .run_info import read_metrics

__all__ = [
    'ArchitectureMismatchError', 'ConversionError', 'ModelPair', 'PublishError', 'Release', 'TimmSpec',
    'UnsafeReleaseError', 'build_mm_model', 'build_model_card', 'check_same_logits', 'check_state_dict',
    'convert_mm_to_timm', 'convert_timm_to_mm', 'diff_state_dict', 'extract_state_dict', 'find_release_files',
    'load_mm_release', 'load_state_dict_strict', 'load_timm_release', 'mm_preprocessing', 'mm_to_timm_state_dict',
    'pair_from_mm', 'pair_from_timm', 'publish', 'read_checkpoint', 'read_config', 'read_metrics',
    'register_release', 'release_subset', 'sanitize_meta', 'save_mm_checkpoint', 'spec_from_mm_model', 'spec_from_timm',
    'timm_create_kwargs', 'timm_data_config', 'timm_to_mm_state_dict', 'verify_release', 'write_mm_files',
    'write_timm_folder',
]
