"""Fashion-MNIST from a local folder, gzipped or not (``type='FashionMNISTFolder'``).

Fashion-MNIST (Xiao et al., arXiv:1708.07747): 70,000 real 28x28 grayscale photos of
clothing in 10 classes, 60,000 for training and 10,000 for testing, as four IDX files::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

On Debian and Ubuntu ``apt-get install dataset-fashion-mnist`` puts the gzipped files in
``/usr/share/datasets/fashion-mnist/``, the default ``data_root`` here. Any other folder
holding the four files works too, each file gzipped or not.

mmpretrain's own ``FashionMNIST`` reads the same files but only unzipped, tries to
download them when they are missing, and picks the split from ``test_mode``. This
subclass keeps its parser and class names and changes only how the files are found:
``file`` or ``file.gz``, a clear error naming a missing or corrupt file, no download,
and the split chosen by ``split``. Each image is a 28x28 ``uint8`` array (one channel).
"""
from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np
from mmpretrain.datasets import FashionMNIST
from mmpretrain.datasets.mnist import read_sn3_pascalvincent_tensor
from mmpretrain.registry import DATASETS

__all__ = ['FashionMNISTFolder', 'find_idx_file', 'read_idx_split', 'FASHION_MNIST_DIR', 'FASHION_MNIST_FILES',
           'HOW_TO_GET']

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
# split -> (images file, labels file), as named in the archive, without '.gz'.
FASHION_MNIST_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
HOW_TO_GET = (f'install it with `sudo apt-get install dataset-fashion-mnist` (puts the gzipped files in '
              f'{FASHION_MNIST_DIR}/), or put the four Fashion-MNIST IDX files (gzipped or not) in one '
              'folder and pass it as data_root')
# Fashion-MNIST labels are 0..9.
NUM_CLASSES = 10


def find_idx_file(root: str, name: str) -> str:
    """Path of ``name`` or ``name.gz`` in ``root``; ``FileNotFoundError`` naming both if neither exists."""
    plain = os.path.join(root, name)
    for path in (plain, plain + '.gz'):
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f'Fashion-MNIST file missing: neither {plain} nor {plain}.gz exists; {HOW_TO_GET}')


def _read_idx(path: str, ndim: int) -> np.ndarray:
    """An IDX file of ``uint8`` with ``ndim`` dimensions, through mmpretrain's parser."""
    try:
        # A path (not a file object) lets mmpretrain's reader decompress '.gz' itself;
        # strict=True makes a truncated file fail instead of giving fewer items.
        with warnings.catch_warnings():  # it wraps a read-only buffer: copied below
            warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
            data = read_sn3_pascalvincent_tensor(path, strict=True).numpy().copy()
    except (OSError, EOFError, ValueError, AssertionError, KeyError, RuntimeError) as e:
        reason = str(e) or type(e).__name__
        raise ValueError(f'Fashion-MNIST file {path} is corrupt or not an IDX file ({reason}); {HOW_TO_GET}') from e
    if data.dtype != np.uint8 or data.ndim != ndim:
        raise ValueError(f'Fashion-MNIST file {path} holds a {data.ndim}-d {data.dtype} array, '
                         f'expected a {ndim}-d uint8 IDX array; {HOW_TO_GET}')
    return data


def read_idx_split(root: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of ``split`` in folder ``root``: ``(N, H, W)`` uint8 and ``(N,)`` int64."""
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"Fashion-MNIST split must be 'train' or 'test', got {split!r}")
    images_name, labels_name = FASHION_MNIST_FILES[split]
    images_path, labels_path = find_idx_file(root, images_name), find_idx_file(root, labels_name)
    images, labels = _read_idx(images_path, 3), _read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise ValueError(f'Fashion-MNIST files disagree: {images_path} holds {len(images)} images but '
                         f'{labels_path} {len(labels)} labels; {HOW_TO_GET}')
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise ValueError(f'Fashion-MNIST file {labels_path} has label {int(labels.max())}, '
                         f'expected 0..{NUM_CLASSES - 1}; {HOW_TO_GET}')
    return images, labels.astype(np.int64)


@DATASETS.register_module(force=True)
class FashionMNISTFolder(FashionMNIST):
    """Fashion-MNIST read from ``data_root`` (the apt package's folder by default).

    Args:
        data_root: Folder with the four IDX files, each gzipped or not.
        split: ``'train'`` (60,000 images) or ``'test'`` (10,000 images).
        **kwargs: Passed to mmpretrain's ``BaseDataset`` (``pipeline``, ``indices``,
            ``test_mode``, ...). ``download`` is not accepted: nothing is downloaded.
    """

    def __init__(self, data_root: str = FASHION_MNIST_DIR, split: str = 'train',
                 metainfo: Optional[dict] = None, **kwargs) -> None:
        if split not in FASHION_MNIST_FILES:
            raise ValueError(f"FashionMNISTFolder: split must be 'train' or 'test', got {split!r}")
        if kwargs.pop('download', False):
            raise ValueError(f'FashionMNISTFolder does not download (download=True given); {HOW_TO_GET}')
        if not isinstance(data_root, str) or not os.path.isdir(data_root):
            raise FileNotFoundError(f'FashionMNISTFolder: data_root {data_root!r} is not a folder; {HOW_TO_GET}')
        kwargs.setdefault('test_mode', split == 'test')
        self._split = split
        super().__init__(data_root=data_root, split=split, metainfo=metainfo, download=False, **kwargs)

    def _check_exists(self) -> bool:
        root = self.data_prefix['root']
        names = FASHION_MNIST_FILES['train'] + FASHION_MNIST_FILES['test']
        return all(os.path.isfile(os.path.join(root, n)) or os.path.isfile(os.path.join(root, n + '.gz'))
                   for n in names)

    def load_data_list(self) -> list[dict]:
        images, labels = read_idx_split(self.data_prefix['root'], self._split)
        return [dict(img=images[i], gt_label=int(labels[i])) for i in range(len(labels))]

    def extra_repr(self) -> list[str]:
        return [f'Split: \t{self._split}', f"Folder: \t{self.data_prefix['root']}"]
