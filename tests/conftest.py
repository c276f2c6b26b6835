"""Fixtures shared by the test modules."""
from __future__ import annotations

import functools
import http.server
import threading

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


class _CodeRunningPickle:
    """Unpickling this writes a marker file (what an attacker's payload would do)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


@pytest.fixture
def code_running_pickle():
    """``make(marker_path)``: an object whose unpickling writes ``marker_path``."""
    return _CodeRunningPickle


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """torch's hub cache in the test's folder (URL downloads land there)."""
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    return tmp_path / 'hub'


@pytest.fixture
def served(tmp_path):
    """``(folder, base URL)``: an http server on 127.0.0.1 serving ``folder`` from a thread.

    Only the loopback address; the server stops after the test.
    """
    root = tmp_path / 'www'
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield root, f'http://127.0.0.1:{server.server_port}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
