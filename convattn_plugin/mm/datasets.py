"""scikit-learn's handwritten digits as an mmpretrain dataset (``type='SklearnDigits'``).

The data are the 1,797 real 8x8 images of ``sklearn.datasets.load_digits`` (UCI
"Optical Recognition of Handwritten Digits", test part), 10 classes. They ship inside
scikit-learn, so nothing is downloaded.

Fixed split: for each digit, the indices of its images (in ``load_digits`` order) are
permuted by ``numpy.random.RandomState(0)`` (one generator, digits 0 to 9 in turn);
the first 36 of each digit form the ``test`` split (360 images), the other 1,437 the
``train`` split. :func:`digits_split` returns the index arrays.

Each image is returned as an 8x8x3 ``uint8`` array (the 0-16 intensities scaled to
0-255 and repeated on three channels, so RGB backbones apply unchanged); the configs
upsample it in the pipeline (``Resize`` to 32 px).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = ['SklearnDigits', 'digits_split', 'DIGITS_TEST_PER_CLASS', 'DIGITS_SPLIT_SEED']

DIGITS_TEST_PER_CLASS = 36
DIGITS_SPLIT_SEED = 0


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover
        raise ImportError('SklearnDigits needs scikit-learn: pip install scikit-learn') from e
    d = load_digits()
    return d.images, d.target


def digits_split(labels: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train_indices, test_indices)`` into ``load_digits()`` (1,437 and 360)."""
    if labels is None:
        labels = _load_digits()[1]
    rng = np.random.RandomState(DIGITS_SPLIT_SEED)
    test = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        test.append(idx[rng.permutation(len(idx))[:DIGITS_TEST_PER_CLASS]])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


@DATASETS.register_module(force=True)
class SklearnDigits(BaseDataset):
    """scikit-learn's 8x8 handwritten digits, with the fixed split described above.

    Args:
        split: ``'train'`` (1,437 images) or ``'test'`` (360 images).
        **kwargs: Passed to mmpretrain's ``BaseDataset`` (``pipeline``, ``indices``,
            ``test_mode``, ...). ``data_root`` and ``ann_file`` are not used.
    """
    METAINFO = {'classes': tuple(str(i) for i in range(10))}

    def __init__(self, split: str = 'train', data_root: str = '', ann_file: str = '', **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"SklearnDigits: split must be 'train' or 'test', got {split!r}")
        self.split = split
        kwargs.setdefault('test_mode', split == 'test')
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        images, labels = _load_digits()
        train, test = digits_split(labels)
        idx = train if self.split == 'train' else test
        gray = np.clip(np.round(images[idx] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
        rgb = np.repeat(gray[..., None], 3, axis=-1)
        return [dict(img=rgb[i], gt_label=int(labels[j]), digits_index=int(j)) for i, j in enumerate(idx)]

    def extra_repr(self) -> list[str]:
        return [f'Split: \t{self.split}', 'Source: \tsklearn.datasets.load_digits (8x8, 10 classes)']
