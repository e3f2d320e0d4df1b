"""Fixtures for the server tests: a live server in a background thread.

``live_server(app)`` runs any ASGI app (e.g. ``create_server(catalog, limits)``) with uvicorn on
a free 127.0.0.1 port in a daemon thread and yields its base URL; the server is stopped when the
``with`` block ends. The port is bound here and the bound socket handed to uvicorn, so no other
process can take the port between choosing it and serving on it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free 127.0.0.1 port (the OS picks it), kept open for uvicorn."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def run_live_server(app: Any, *, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield ``http://host:port``.

    Raises RuntimeError when the server has not started within ``timeout`` seconds.
    """
    import uvicorn

    sock = bound_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def live_server() -> Callable[..., AbstractContextManager[str]]:
    """``with live_server(app) as url: ...`` runs an ASGI app on a free local port."""
    return run_live_server
