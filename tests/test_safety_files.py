"""Clear errors for checkpoint paths that are not weights: empty files, folders, NaN/inf values;
only a real hash pattern in a file name is checked (a date stamp is not a hash)."""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.checkpoint import NonFiniteWeightsError, check_finite, hash_in_name, load_weights


def test_an_empty_file_is_named_with_what_is_accepted(tmp_path):
    empty = tmp_path / 'epoch_3.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r"checkpoint '.*epoch_3\.pth' is empty \(0 bytes\).*Expected a checkpoint file"):
        load_weights(empty)


def test_a_directory_is_named_with_what_is_accepted(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"checkpoint '.*' is a directory; expected a checkpoint file"):
        load_weights(tmp_path)


def test_non_finite_weights_are_refused_with_their_keys():
    state = {'ok': torch.ones(2), 'a.weight': torch.tensor([1., float('nan')]),
             'b.bias': torch.tensor([float('inf')]), 'steps': torch.tensor(3)}
    with pytest.raises(NonFiniteWeightsError, match=r'x\.pth has non-finite values \(NaN or inf\) in 2 tensor\(s\): '
                                                    r'a\.weight, b\.bias'):
        check_finite(state, 'x.pth')
    check_finite({'ok': torch.ones(2), 'steps': torch.tensor(3)})


@pytest.mark.parametrize('name, digest', [
    ('resnet18-5c106cde.pth', '5c106cde'),            # torch.hub's own file
    ('model-0123456789abcdef.safetensors', '0123456789abcdef'),
    ('run_20240131-00112233.pth', '00112233'),        # mmpretrain: date, then an all-digit hash
    ('resnet50-20240131.pth', None),                  # a date
    ('resnet50-202401311230.pth', None),              # a date and time
    ('resnet50-20241399.pth', '20241399'),            # no such date: a hash
    ('epoch_4.pth', None),
    ('model-xyz12345.pth', None),
    ('model-1a2b3c4d.txt', None),
])
def test_only_a_real_hash_pattern_is_a_hash(name, digest):
    assert hash_in_name(name) == digest
    assert hash_in_name(f'https://example.org/w/{name}?x=1') == digest


def test_a_date_stamped_file_loads_unchecked(tmp_path):
    path = tmp_path / 'resnet50-20240131.pth'
    torch.save({'w': torch.ones(1)}, path)
    assert torch.equal(load_weights(path)['w'], torch.ones(1))
