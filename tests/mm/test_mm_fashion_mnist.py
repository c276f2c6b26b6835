"""FashionMNISTFolder: the four IDX files, gzipped or not, from any folder; clear errors."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from convattn_plugin.mm.fashion_mnist import FASHION_MNIST_FILES, FashionMNISTFolder, read_idx_split

UINT8 = 0x08


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of a uint8 array: magic (0, 0, type, ndim), big-endian dims, data."""
    header = struct.pack('>BBBB', 0, 0, UINT8, array.ndim) + struct.pack(f'>{array.ndim}I', *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> None:
    for name, arr in zip(FASHION_MNIST_FILES[split], (images, labels)):
        data = idx_bytes(arr)
        if gz:
            (folder / f'{name}.gz').write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


@pytest.fixture
def folder(tmp_path: Path):
    """Train files gzipped, test files plain (both forms in one folder)."""
    train, test = synthetic(12, 0), synthetic(5, 1)
    write_split(tmp_path, 'train', *train, gz=True)
    write_split(tmp_path, 'test', *test, gz=False)
    return tmp_path, train, test


@pytest.mark.parametrize('split', ['train', 'test'])
def test_images_and_labels_round_trip(folder, split):
    root, train, test = folder
    images, labels = train if split == 'train' else test
    ds = FashionMNISTFolder(data_root=str(root), split=split)
    assert len(ds) == len(labels)
    for i in range(len(labels)):
        info = ds.get_data_info(i)
        np.testing.assert_array_equal(info['img'], images[i])
        assert info['gt_label'] == int(labels[i])
    assert ds.metainfo['classes'][0] == 'T-shirt/top' and len(ds.metainfo['classes']) == 10
    assert ds.test_mode == (split == 'test')


def test_pipeline_packs_one_channel(folder):
    root, (images, labels), _ = folder
    ds = FashionMNISTFolder(data_root=str(root), split='train', pipeline=[dict(type='PackInputs')])
    item = ds[3]
    assert tuple(item['inputs'].shape) == (1, 28, 28)
    assert np.array_equal(item['inputs'][0].numpy(), images[3])
    assert int(item['data_samples'].gt_label) == int(labels[3])


def test_gzipped_files_alone_are_read(tmp_path):
    images, labels = synthetic(4, 2)
    write_split(tmp_path, 'test', images, labels, gz=True)
    got_images, got_labels = read_idx_split(str(tmp_path), 'test')
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels.astype(np.int64))


def test_missing_file_names_it_and_the_apt_package(folder):
    root, _, _ = folder
    (root / 't10k-labels-idx1-ubyte').unlink()
    with pytest.raises(FileNotFoundError, match=r't10k-labels-idx1-ubyte\.gz exists.*apt-get install '
                                                r'dataset-fashion-mnist'):
        FashionMNISTFolder(data_root=str(root), split='test')
    # The train split does not need the test files.
    assert len(FashionMNISTFolder(data_root=str(root), split='train')) == 12


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_root '.*nowhere' is not a folder.*dataset-fashion-mnist"):
        FashionMNISTFolder(data_root=str(tmp_path / 'nowhere'))


@pytest.mark.parametrize('damage', ['truncated', 'not_gzip', 'empty', 'wrong_ndim'])
def test_corrupt_file_is_named(folder, damage):
    root, (images, labels), _ = folder
    path = root / 'train-images-idx3-ubyte.gz'
    if damage == 'truncated':
        path.write_bytes(gzip.compress(idx_bytes(images)[:-100]))
    elif damage == 'not_gzip':
        path.write_bytes(b'this is not gzip data at all')
    elif damage == 'empty':
        path.write_bytes(gzip.compress(b''))
    else:  # a label file (1-d) where images (3-d) belong
        path.write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(ValueError, match=r'Fashion-MNIST file .*train-images-idx3-ubyte\.gz .*dataset-fashion-mnist'):
        FashionMNISTFolder(data_root=str(root), split='train')


def test_counts_must_agree(tmp_path):
    images, labels = synthetic(6, 3)
    write_split(tmp_path, 'train', images, labels[:5], gz=False)
    with pytest.raises(ValueError, match='holds 6 images but .* 5 labels'):
        FashionMNISTFolder(data_root=str(tmp_path), split='train')


def test_bad_split_and_download(folder):
    root, _, _ = folder
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        FashionMNISTFolder(data_root=str(root), split='val')
    with pytest.raises(ValueError, match='does not download'):
        FashionMNISTFolder(data_root=str(root), download=True)


def test_registered_under_its_own_name():
    import convattn_plugin.mm  # noqa: F401
    from mmpretrain.datasets import FashionMNIST
    from mmpretrain.registry import DATASETS

    assert DATASETS.get('FashionMNISTFolder') is FashionMNISTFolder
    assert DATASETS.get('FashionMNIST') is FashionMNIST  # mmpretrain's own is untouched


def test_base_config_builds_the_data_set(folder, kit):
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    root, (images, _), _ = folder
    cfg = Config.fromfile(str(kit.REPO / 'configs/_base_/datasets/fashion_mnist_bs128.py'))
    assert cfg.train_dataloader.dataset.data_root == '/usr/share/datasets/fashion-mnist'
    ds_cfg = dict(cfg.train_dataloader.dataset, data_root=str(root))
    item = DATASETS.build(ds_cfg)[0]
    assert tuple(item['inputs'].shape) == (1, 28, 28)  # RandomCrop with padding keeps the size
