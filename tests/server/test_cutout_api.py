"""``POST /api/cutout``, :func:`mattepaint.server.services.run_cutout`, the catalog's segmenters
and ``mattepaint serve --segmenter``.

The segmenter is a tiny ONNX graph in MODNet's published format exported here (its soft mask is
the photo's red channel); the photo is a red disc with a soft edge on blue, so the soft mask is
the true alpha.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from _png import decode_png as _decode
from _png import png_bytes as _png
from _wait import wait_until as _wait_until
from fastapi.testclient import TestClient
from PIL import Image

from mattepaint import batch, cli, io
from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.segmentation import SHIPPED_SEGMENTER
from mattepaint.segmentation import base as segmentation_base
from mattepaint.server import MethodCatalog, ServerLimits, create_server
from mattepaint.server.api import create_api
from mattepaint.server.services import JobCancelledError, run_cutout

SIZE = (56, 72)  # (H, W)


def _photo(red: bool = True) -> np.ndarray:
    """(H, W, 3) uint8: a red disc with a soft edge on blue (no red at all: ``red=False``)."""
    h, w = SIZE
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    alpha = np.clip((16 - np.hypot(yy - h / 2, xx - w / 2)) / 3.0 + 0.5, 0.0, 1.0)
    photo = np.zeros((h, w, 3), np.float32)
    photo[..., 0] = alpha if red else 0.0
    photo[..., 1] = 0.15
    photo[..., 2] = 0.8 - 0.7 * alpha
    return np.round(photo * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def catalog(segmenter_file: Path) -> MethodCatalog:
    return MethodCatalog(segmenters=[segmenter_file])


@pytest.fixture(scope="module")
def client(catalog: MethodCatalog) -> Iterator[TestClient]:
    with TestClient(create_server(catalog, ui=False)) as test_client:
        yield test_client


def _cut(client: TestClient, photo: np.ndarray, **data: str) -> httpx.Response:
    return client.post("/api/cutout", files={"image": ("p.png", _png(photo))}, data=data)


# ------------------------------------------------------------------------------- endpoint


def test_methods_list_the_segmenters(client: TestClient) -> None:
    # the server's files first (the first is the default), then the shipped one
    assert client.get("/api/methods").json()["segmenters"] == ["red", SHIPPED_SEGMENTER]


def test_scribbles_correct_the_cutout(client: TestClient) -> None:
    h, w = SIZE
    strokes = np.zeros(SIZE, np.uint8)
    strokes[h // 2 - 2 : h // 2 + 3, w // 2 - 6 : w // 2 + 7] = 255  # on the subject's middle
    plain = _decode(_cut(client, _photo(), output="alpha").content)
    response = client.post(
        "/api/cutout",
        files={
            "image": ("p.png", _png(_photo())),
            "background_scribbles": ("bg.png", _png(strokes)),
        },
        data={"output": "alpha"},
    )
    assert response.status_code == 200, response.text
    corrected = _decode(response.content)
    assert plain[h // 2, w // 2] == 255 and corrected[h // 2, w // 2] == 0
    response = client.post(
        "/api/cutout",
        files={
            "image": ("p.png", _png(_photo())),
            "foreground_scribbles": ("fg.png", _png(strokes[:10])),
        },
    )
    assert response.status_code == 400 and "foreground scribbles" in response.json()["detail"]
    response = client.post(
        "/api/cutout",
        files={
            "image": ("p.png", _png(_photo())),
            "foreground_scribbles": ("fg.png", _png(np.zeros(SIZE, np.uint8))),
        },
    )
    assert response.status_code == 400 and "mark no pixel" in response.json()["detail"]
    docs = client.get("/openapi.json").json()["paths"]
    assert "Cut the subject out" in docs["/api/cutout"]["post"]["description"]


def test_cutout_equals_the_library(client: TestClient, tmp_path: Path, segmenter_file) -> None:
    photo = _photo()
    response = _cut(client, photo)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    rgba = _decode(response.content)
    assert rgba.shape == (*SIZE, 4)
    # the same photo through the command line's library function: the same bytes of pixels
    io.save_image(tmp_path / "p.png", photo)
    batch.cutout_file(tmp_path / "p.png", tmp_path / "cut.png", segmenter=segmenter_file)
    with Image.open(tmp_path / "cut.png") as im:
        np.testing.assert_array_equal(rgba, np.asarray(im))
    assert np.abs(rgba[..., 3].astype(int) - photo[..., 0]).mean() < 3  # red = true alpha

    alpha = _decode(_cut(client, photo, output="alpha", segmenter="red").content)
    np.testing.assert_array_equal(alpha, rgba[..., 3])
    trimap = _decode(_cut(client, photo, output="trimap").content)
    assert trimap.shape == SIZE and set(np.unique(trimap)) == {0, 128, 255}
    assert trimap[SIZE[0] // 2, SIZE[1] // 2] == 255 and trimap[0, 0] == 0

    raw = _decode(_cut(client, photo, output="alpha", refine="none").content)
    assert np.abs(raw.astype(int) - photo[..., 0]).max() <= 16  # the soft mask (resized twice)
    knn = _cut(client, photo, output="alpha", refine="knn")
    assert knn.status_code == 200, knn.text
    auto = _cut(client, photo, output="alpha", refine="auto")  # the default with a trimap
    assert auto.status_code == 200, auto.text
    auto_alpha = _decode(auto.content)
    assert auto_alpha.shape == SIZE
    known = trimap != 128  # the automatic trimap's sure regions are kept by any refiner
    np.testing.assert_array_equal(auto_alpha[known], trimap[known])


@pytest.mark.parametrize(
    ("data", "status", "needles"),
    [
        ({"segmenter": "u2net"}, 400, ("unknown segmenter", "red")),
        ({"refine": "magic"}, 400, ("magic", "auto", "closed_form", "knn")),
        ({"refine": "background_difference"}, 400, ("trimap",)),
        ({"output": "foreground"}, 422, ()),
    ],
)
def test_bad_fields(client: TestClient, data: dict, status: int, needles: tuple) -> None:
    response = _cut(client, _photo(), **data)
    assert response.status_code == status, response.text
    for needle in needles:
        assert needle in response.json()["detail"]


def test_no_subject_and_bad_image_are_400(client: TestClient) -> None:
    response = _cut(client, _photo(red=False))
    assert response.status_code == 400
    assert "found no subject" in response.json()["detail"]
    response = client.post("/api/cutout", files={"image": ("p.png", b"not an image")})
    assert response.status_code == 400
    assert "not an image" in response.json()["detail"]


def test_server_offers_the_shipped_segmenter_by_default() -> None:
    with TestClient(create_server(ui=False)) as test_client:
        assert test_client.get("/api/methods").json()["segmenters"] == [SHIPPED_SEGMENTER]


def test_server_without_segmenter_says_how_to_add_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmentation_base, "_SEGMENTERS", {})  # an install without the model
    with TestClient(create_server(ui=False)) as test_client:
        assert test_client.get("/api/methods").json()["segmenters"] == []
        response = _cut(test_client, _photo())
    assert response.status_code == 400
    assert "--segmenter FILE.onnx" in response.json()["detail"]


def test_upload_over_the_byte_limit_is_413(catalog: MethodCatalog) -> None:
    limits = ServerLimits(max_upload_bytes=1000)
    with TestClient(create_api(catalog, limits)) as test_client:
        response = _cut(
            test_client, np.random.default_rng(0).integers(0, 255, (*SIZE, 3), np.uint8)
        )
    assert response.status_code == 413


# ------------------------------------------------------------------------------- catalog


def test_catalog_segmenter_files_are_checked_at_start(tmp_path: Path, segmenter_file) -> None:
    with pytest.raises(InputNotFoundError, match="missing.onnx"):
        MethodCatalog(segmenters=[tmp_path / "missing.onnx"])
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07 not a model" * 8)
    with pytest.raises(InputError, match="bad.onnx"):
        MethodCatalog(segmenters=[tmp_path / "bad.onnx"])
    (tmp_path / "b").mkdir()
    copy = tmp_path / "b" / "red.onnx"
    copy.write_bytes(segmenter_file.read_bytes())
    with pytest.raises(InputError, match="two segmenter files"):
        MethodCatalog(segmenters=[segmenter_file, copy])
    with pytest.raises(TypeError, match="wrap it in a list"):
        MethodCatalog(segmenters=str(segmenter_file))  # type: ignore[arg-type]


def test_serve_flag_maps_onto_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import mattepaint.server

    calls: list[dict] = []
    monkeypatch.setattr(mattepaint.server, "serve", lambda **kwargs: calls.append(kwargs))
    argv = ["serve", "--segmenter", "a.onnx", "--segmenter", "b.onnx", "--no-ui"]
    assert cli.main(argv) == 0
    assert calls[0]["segmenters"] == [Path("a.onnx"), Path("b.onnx")]
    assert calls[0]["check_with"] is None
    assert cli.main([*argv, "--check-with", SHIPPED_SEGMENTER]) == 0
    assert calls[1]["check_with"] == SHIPPED_SEGMENTER


def test_catalog_offers_files_checked_by_another_segmenter(segmenter_file: Path) -> None:
    from mattepaint.segmentation import GatedSegmenter

    checked = MethodCatalog(segmenters=[segmenter_file], check_with=segmenter_file)
    assert checked.segmenter_names() == ["red_checked", "red", SHIPPED_SEGMENTER]
    gated = checked.segmenter()  # the default: the first
    assert isinstance(gated, GatedSegmenter)
    photo = io.to_tensor(_photo().astype(np.float32) / 255)
    torch.testing.assert_close(gated(photo), checked.segmenter("red")(photo))  # they agree
    assert gated.last_choice == ["specialist"]
    with pytest.raises(InputError, match="give at least one"):
        MethodCatalog(check_with=segmenter_file)


# ------------------------------------------------------------------------------- jobs


class BlockingSegmenter:
    """The red channel, once the test sets ``release``; sets ``cancel`` (when given) on the way
    out, as a client that disconnects while the segmenter runs."""

    name = "blocking"

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.release = threading.Event()
        self.cancel = cancel
        self.calls = 0

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if not self.release.wait(timeout=60):
            raise RuntimeError("the test never released the job")
        if self.cancel is not None:
            self.cancel.set()
        return image[:, :1].clone()


def test_run_cutout_stops_after_the_segmenter_when_cancelled(
    catalog: MethodCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancel = threading.Event()
    blocking = BlockingSegmenter(cancel)
    blocking.release.set()
    monkeypatch.setattr(catalog, "segmenter", lambda name=None: blocking)
    matted: list[object] = []
    import mattepaint.segmentation

    monkeypatch.setattr(
        mattepaint.segmentation, "cutout", lambda *a, **k: matted.append(1)
    )  # never reached
    photo = _photo().astype(np.float32) / 255
    with pytest.raises(JobCancelledError):
        run_cutout(catalog, photo, cancel=cancel)
    assert blocking.calls == 1 and matted == []


def test_cutout_requests_queue(
    live_server, catalog: MethodCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocking = BlockingSegmenter()
    monkeypatch.setattr(catalog, "segmenter", lambda name=None: blocking)
    body = _png(_photo())

    def post(url: str) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            return http.post(f"{url}/api/cutout", files={"image": ("p.png", body)})

    def queue(url: str) -> tuple[int, int]:
        health = httpx.get(f"{url}/api/health", timeout=10).json()
        return health["running"], health["waiting"]

    limits = ServerLimits(max_concurrent=1, max_queue=8)
    with live_server(create_api(catalog, limits)) as url, ThreadPoolExecutor(3) as pool:
        try:
            futures = [pool.submit(post, url) for _ in range(3)]
            # the running job reaches the segmenter a moment after it is counted as running
            _wait_until(
                lambda: queue(url) == (1, 2) and blocking.calls == 1,
                "1 running (inside the segmenter) and 2 waiting",
            )
            assert blocking.calls == 1 and queue(url) == (1, 2)
        finally:
            blocking.release.set()
        responses = [future.result() for future in futures]
    assert [r.status_code for r in responses] == [200] * 3
    assert blocking.calls == 3
    assert _decode(responses[0].content).shape == (*SIZE, 4)


# ------------------------------------------------------------------------------- web UI


def _ui_function(catalog: MethodCatalog, api_name: str) -> Callable:
    import gradio  # noqa: F401  # the UI needs it; the module is skipped without

    from mattepaint.server.ui import build_ui

    demo = build_ui(catalog, ServerLimits())
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def test_ui_automatic_mode_shows_mask_trimap_and_result(
    catalog: MethodCatalog, tmp_path: Path
) -> None:
    photo = _photo()
    path = io.save_image(tmp_path / "photo.png", photo)
    soft, trimap, alpha, foreground, on_board, download = _ui_function(catalog, "cutout")(
        str(path), "red", "closed_form"
    )
    expected = run_cutout(catalog, photo.astype(np.float32) / 255, segmenter="red")
    np.testing.assert_array_equal(alpha, np.round(expected.alpha * 255).astype(np.uint8))
    np.testing.assert_array_equal(soft, np.round(expected.soft_mask * 255).astype(np.uint8))
    assert set(np.unique(trimap)) == {0, 128, 255}
    assert foreground.shape == on_board.shape == (*SIZE, 3)
    with Image.open(download) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[..., 3], alpha)


def test_ui_scribbles_correct_the_automatic_cutout(catalog: MethodCatalog, tmp_path: Path) -> None:
    from mattepaint.server import ui

    photo = _photo()
    path = io.save_image(tmp_path / "photo.png", photo)
    canvas = ui._scribble_canvas(str(path), limits=ServerLimits())
    assert canvas is not None and canvas["background"].shape == (*SIZE, 3)
    layer = np.zeros((*SIZE, 4), np.uint8)
    h, w = SIZE
    layer[h // 2 - 2 : h // 2 + 3, w // 2 - 6 : w // 2 + 7] = (255, 45, 85, 255)  # red: not it
    run = _ui_function(catalog, "cutout")
    plain = run(str(path), "red", "closed_form", canvas)  # nothing painted: as before
    _, trimap, alpha, *_ = run(str(path), "red", "closed_form", {**canvas, "layers": [layer]})
    np.testing.assert_array_equal(plain[2], run(str(path), "red", "closed_form")[2])
    assert plain[2][h // 2, w // 2] == 255 and alpha[h // 2, w // 2] == 0
    assert trimap[h // 2, w // 2] == 0
    green = layer.copy()
    green[..., :3] = (0, 230, 118)  # green: the subject (it already is)
    kept = run(str(path), "red", "closed_form", {**canvas, "layers": [green]})[2]
    assert kept[h // 2, w // 2] == 255
    with pytest.raises(Exception, match="upload the image again"):
        run(str(path), "red", "closed_form", {**canvas, "layers": [layer[h // 2 - 5 :]]})


def test_ui_automatic_mode_errors_are_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradio as gr

    monkeypatch.setattr(segmentation_base, "_SEGMENTERS", {})  # an install without the model

    path = io.save_image(tmp_path / "photo.png", _photo())
    run = _ui_function(MethodCatalog(), "cutout")
    with pytest.raises(gr.Error, match="--segmenter FILE.onnx"):
        run(str(path), None, "closed_form")
    with pytest.raises(gr.Error, match="Upload an image"):
        run(None, None, "closed_form")
