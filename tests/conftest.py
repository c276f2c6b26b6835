"""Fixtures shared by the test modules."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope='module')
def one_thread():
    """One intra-op thread for the module's tests.

    Two shared cores run the large models of these tests (VGG's 100M-parameter heads,
    tool runs) faster with one thread each than with two threads fighting other work.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
