"""The mattepaint server: an HTTP API (``/api/...``) and a web UI (``/``) in one process.

- :func:`create_server`: the FastAPI app, with the gradio UI mounted at ``/`` unless ``ui=False``.
- :func:`serve`: build it and run it with uvicorn (``mattepaint serve``).
- :class:`~mattepaint.server.catalog.MethodCatalog`: registered methods plus trained checkpoints.
- :class:`~mattepaint.server.services.ServerLimits`: upload, pixel and queue limits.

The server has no authentication: it binds to 127.0.0.1 by default. Expose it beyond this
machine only behind a proxy that authenticates.

Example:
    $ mattepaint serve --checkpoint runs/seed000/checkpoints/best.pt
    $ curl -sf -F image=@photo.png -F mask=@mask.png http://127.0.0.1:7860/api/inpaint -o out.png
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mattepaint.server.catalog import MethodCatalog
from mattepaint.server.services import ServerLimits

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["MethodCatalog", "ServerLimits", "create_server", "serve"]


def create_server(
    catalog: MethodCatalog | None = None,
    limits: ServerLimits | None = None,
    *,
    ui: bool = True,
) -> FastAPI:
    """The server application: the HTTP API, plus the web UI mounted at ``/``.

    Inputs:
        catalog: methods on offer (default: the registered methods).
        limits: upload / pixel / queue limits (default :class:`ServerLimits`).
        ui: mount the gradio UI (:func:`mattepaint.server.ui.build_ui`) at ``/``; False serves
            the API (and its documentation at ``/docs``) only.
    Outputs: a FastAPI app (an ASGI application for uvicorn).

    Raises:
        RuntimeError: ``ui=True`` while the web UI module cannot be imported (the message says
            why and suggests ``ui=False`` / ``--no-ui``).
    """
    from mattepaint.server.api import create_api

    catalog = MethodCatalog() if catalog is None else catalog
    limits = ServerLimits() if limits is None else limits
    app = create_api(catalog, limits)
    if not ui:
        return app
    try:
        import gradio as gr

        from mattepaint.server.ui import build_ui
    except ImportError as exc:
        raise RuntimeError(
            f"the web UI cannot be loaded ({exc}); serve the HTTP API only with ui=False "
            "(mattepaint serve --no-ui)"
        ) from exc
    blocks = build_ui(catalog, limits)
    return gr.mount_gradio_app(app, blocks, path="/", max_file_size=limits.max_upload_bytes)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    checkpoints: Sequence[str | Path] = (),
    models_dir: str | Path | None = None,
    limits: ServerLimits | None = None,
    *,
    ui: bool = True,
    device: str = "cpu",
    log_level: str = "info",
    segmenters: Sequence[str | Path] = (),
    check_with: str | Path | None = None,
) -> None:
    """Run the server with uvicorn until interrupted (Ctrl-C).

    Inputs:
        host, port: where to listen (default 127.0.0.1:7860, this machine only).
        checkpoints: trained checkpoint files to offer; models_dir: a folder of ``*.pt``.
        limits: :class:`ServerLimits` (default 20 MiB uploads, 16.7 MP, 1 job at a time, 8
            waiting).
        ui: also serve the web UI at ``/``.
        device: where checkpoint models run.
        log_level: uvicorn's log level.
        segmenters: segmenter files for the cut-out (``POST /api/cutout``, the automatic mode of
            the Matte tab): U2-Net-family or MODNet ONNX files, offered by file stem.
        check_with: a segmenter that checks each of them (see :class:`MethodCatalog`).
    Outputs: None (blocks). Prints the address on stdout first.
    """
    import uvicorn

    catalog = MethodCatalog(
        checkpoints, models_dir, device=device, segmenters=segmenters, check_with=check_with
    )
    limits = ServerLimits() if limits is None else limits
    app = create_server(catalog, limits, ui=ui)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    print(f"mattepaint: serving on {url}  (API: {url}/api/..., docs: {url}/docs)", flush=True)
    if not _is_loopback(host):
        print(
            f"mattepaint: warning: listening on {host}, reachable from other machines; the "
            "server has no authentication",
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
