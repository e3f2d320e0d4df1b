"""Tests for the HTTP API (mattepaint.server.api / create_server) and `mattepaint serve`."""

from __future__ import annotations

import io as bytes_io
import socket
import sys
import threading
from collections.abc import Iterator
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
from scipy.ndimage import distance_transform_edt

from mattepaint import cli, io
from mattepaint.methods import get_inpainter, get_matter, resolve_matter
from mattepaint.models.loading import CHECKPOINT_FORMAT
from mattepaint.models.registry import build_model
from mattepaint.server import MethodCatalog, ServerLimits, create_server
from mattepaint.server.api import create_api
from mattepaint.server.services import (
    JobCancelledError,
    JobGate,
    check_cancelled,
    dilate_mask,
    run_inpaint,
)

SIZE = 48


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """What io.save_image stores: round(clip(x) * 255)."""
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    """A 48x48 picture: random foreground disk over a random background, with its mask/trimap."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(yy - 24, xx - 24)  # (H, W)
    alpha = np.clip(12.5 - radius, 0, 1)  # a disk with a one-pixel soft edge
    fg = np.clip(rng.random((SIZE, SIZE, 3)) * 0.3 + np.array([0.7, 0.2, 0.1]), 0, 1)
    bg = rng.random((SIZE, SIZE, 3)) * 0.3 + np.array([0.1, 0.3, 0.6])
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    trimap = np.full((SIZE, SIZE), 128, np.uint8)
    trimap[radius < 9] = 255
    trimap[radius > 16] = 0
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[10:22, 14:34] = 255
    return {
        "image": _to_uint8(image),
        "background": _to_uint8(bg),
        "trimap": trimap,
        "mask": mask,
    }


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_server(ui=False)) as test_client:
        yield test_client


def _files(sample: dict[str, np.ndarray], *names: str) -> dict[str, tuple[str, bytes]]:
    return {name: (f"{name}.png", _png(sample[name])) for name in names}


# ------------------------------------------------------------------------------- endpoints


def test_health_and_methods(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["running"] == 0 and health["waiting"] == 0
    assert health["limits"] == {
        "max_upload_bytes": 20 * 1024 * 1024,
        "max_pixels": 4096 * 4096,
        "max_concurrent": 1,
        "max_queue": 8,
    }
    methods = client.get("/api/methods").json()
    assert {"telea", "ns", "biharmonic"} <= set(methods["inpainting"])
    assert {"name": "closed_form", "needs": "trimap"} in methods["matting"]
    assert {"name": "background_difference", "needs": "background"} in methods["matting"]
    docs = client.get("/openapi.json").json()["paths"]
    assert {"/api/inpaint", "/api/matte", "/api/methods", "/api/health"} <= set(docs)
    assert "Fill the holes" in docs["/api/inpaint"]["post"]["description"]


def test_inpaint_round_trip_equals_library(client: TestClient, sample: dict) -> None:
    response = client.post(
        "/api/inpaint", files=_files(sample, "image", "mask"), data={"method": "telea"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    out = _decode(response.content)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
    hole = sample["mask"] > 127
    np.testing.assert_array_equal(out[~hole], sample["image"][~hole])
    # Independent computation: the registered method on the same decoded input.
    image = sample["image"].astype(np.float32) / 255
    with torch.no_grad():
        filled = get_inpainter("telea")(io.to_tensor(image), io.to_tensor(hole.astype(np.float32)))
    np.testing.assert_array_equal(out, _to_uint8(io.to_numpy(filled)))
    assert not np.array_equal(out[hole], sample["image"][hole])


def test_inpaint_dilate_and_default_method(client: TestClient, sample: dict) -> None:
    plain = _decode(client.post("/api/inpaint", files=_files(sample, "image", "mask")).content)
    grown = client.post("/api/inpaint", files=_files(sample, "image", "mask"), data={"dilate": "3"})
    assert grown.status_code == 200
    out = _decode(grown.content)
    hole = sample["mask"] > 127
    ring = np.zeros_like(hole)
    ring[7:25, 11:37] = True  # the hole grown by 3 px (a disk: corners stay, rows/cols grow)
    np.testing.assert_array_equal(out[~ring], sample["image"][~ring])
    assert not np.array_equal(out, plain)  # more pixels were filled
    bad = client.post("/api/inpaint", files=_files(sample, "image", "mask"), data={"dilate": -1})
    assert bad.status_code == 422


@pytest.mark.parametrize("pixels", [1, 2, 3, 5, 8])
def test_dilate_mask_grows_by_exactly_n_pixels(pixels: int) -> None:
    # One hole pixel grows into a disk of radius ``pixels``: it reaches exactly ``pixels`` along
    # both axes, holds every pixel within pixels - 0.5 and none beyond pixels + 0.5 (the
    # rasterised disk, OpenCV's elliptic structuring element of size 2 * pixels + 1).
    mask = np.zeros((41, 41), bool)
    mask[20, 20] = True
    grown = dilate_mask(mask, pixels)
    assert grown.dtype == bool and grown.shape == mask.shape
    rows, cols = np.nonzero(grown)
    low, high = 20 - pixels, 20 + pixels
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (low, high, low, high)
    distance = np.hypot(*np.mgrid[-20:21, -20:21])  # (41, 41) distance to the hole pixel
    assert grown[distance <= pixels - 0.5].all()
    assert not grown[distance > pixels + 0.5].any()
    assert dilate_mask(mask, 0) is mask


def test_inpaint_fills_exactly_the_dilated_hole(sample: dict) -> None:
    def black(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(image)

    catalog = MethodCatalog(inpainters={"black": black})
    hole = sample["mask"] > 127  # rows 10..21, columns 14..33
    distance = distance_transform_edt(~hole)  # (H, W) Euclidean distance to the hole
    with TestClient(create_api(catalog)) as client:
        for pixels in (0, 2, 4):
            response = client.post(
                "/api/inpaint",
                files=_files(sample, "image", "mask"),
                data={"method": "black", "dilate": str(pixels)},
            )
            assert response.status_code == 200, response.text
            out = _decode(response.content)
            filled = (out == 0).all(axis=-1)  # the sample image has no black pixel
            rows, cols = np.nonzero(filled)
            extent = (rows.min(), rows.max(), cols.min(), cols.max())
            assert extent == (10 - pixels, 21 + pixels, 14 - pixels, 33 + pixels)
            assert filled[distance <= max(pixels - 0.5, 0)].all()
            assert not filled[distance > pixels + 0.5].any()
            np.testing.assert_array_equal(out[~filled], sample["image"][~filled])


def test_exif_rotated_jpeg_follows_io_rules(client: TestClient, sample: dict) -> None:
    stored = Image.fromarray(sample["image"][:30, :40])  # 40 wide, 30 high on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise: shown 30 wide, 40 high
    buffer = bytes_io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes())
    jpeg = buffer.getvalue()
    mask = np.zeros((40, 30), np.uint8)
    mask[5:15, 5:20] = 255
    ok = client.post(
        "/api/inpaint", files={"image": ("a.jpg", jpeg), "mask": ("m.png", _png(mask))}
    )
    assert ok.status_code == 200, ok.text
    assert _decode(ok.content).shape == (40, 30, 3)
    wrong = client.post(
        "/api/inpaint", files={"image": ("a.jpg", jpeg), "mask": ("m.png", _png(mask.T.copy()))}
    )
    assert wrong.status_code == 400
    assert wrong.json()["detail"] == "mask size 40x30 does not match image size 30x40"


def test_matte_with_trimap_equals_library(client: TestClient, sample: dict) -> None:
    files = _files(sample, "image", "trimap")
    alpha_png = client.post("/api/matte", files=files, data={"output": "alpha"})
    assert alpha_png.status_code == 200, alpha_png.text
    alpha = _decode(alpha_png.content)
    assert alpha.shape == (SIZE, SIZE) and alpha.dtype == np.uint8
    # Independent computation: the library's default with a trimap (the shipped learned model,
    # else cf_knn_sm) called on the decoded inputs.
    image = sample["image"].astype(np.float32) / 255
    trimap = (sample["trimap"] / 255.0).round(1).astype(np.float32)  # 0 / 0.5 / 1
    x, t = io.to_tensor(image), io.to_tensor(trimap)
    default = resolve_matter(None, has_trimap=True, has_background=False)
    expected = _to_uint8(io.to_numpy(default(x, trimap=t).alpha))
    assert np.abs(alpha.astype(int) - expected).max() <= 1
    assert (alpha[sample["trimap"] == 0] == 0).all() and (
        alpha[sample["trimap"] == 255] == 255
    ).all()

    rgba = _decode(client.post("/api/matte", files=files).content)  # default output: rgba
    assert rgba.shape == (SIZE, SIZE, 4)
    np.testing.assert_array_equal(rgba[..., 3], alpha)
    fg = _decode(client.post("/api/matte", files=files, data={"output": "foreground"}).content)
    assert fg.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(rgba[..., :3], fg)
    named = client.post(
        "/api/matte", files=files, data={"method": "cf_knn_sm", "output": "alpha"}
    )
    classical = _to_uint8(io.to_numpy(get_matter("cf_knn_sm")(x, trimap=t).alpha))
    assert np.abs(_decode(named.content).astype(int) - classical).max() <= 1


def test_matte_with_background(client: TestClient, sample: dict) -> None:
    files = _files(sample, "image", "background")
    named = client.post(
        "/api/matte", files=files, data={"output": "alpha", "method": "background_difference"}
    )
    assert named.status_code == 200, named.text
    alpha = _decode(named.content)
    image = sample["image"].astype(np.float32) / 255
    background = sample["background"].astype(np.float32) / 255
    result = get_matter("background_difference")(
        io.to_tensor(image), background=io.to_tensor(background)
    )
    assert np.abs(alpha.astype(int) - _to_uint8(io.to_numpy(result.alpha))).max() <= 1
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(yy - 24, xx - 24)
    assert alpha[radius < 8].mean() > 200 and alpha[radius > 18].mean() < 30
    # no method: "auto", the shipped background-aware network, which finds the same disk
    response = client.post("/api/matte", files=files, data={"output": "alpha"})
    assert response.status_code == 200, response.text
    auto = _decode(response.content)
    assert auto[radius < 8].mean() > 200 and auto[radius > 18].mean() < 30


def test_inpaint_with_a_checkpoint(tmp_path: Path, sample: dict) -> None:
    torch.manual_seed(0)
    model = build_model("unet_inpaint", base=4, depth=2)
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": "unet_inpaint", "params": {"base": 4, "depth": 2}},
        "task": "inpainting",
        "model_state": model.state_dict(),
    }
    torch.save(ckpt, tmp_path / "tiny.pt")
    with TestClient(create_api(MethodCatalog(models_dir=tmp_path))) as client:
        assert "checkpoint:tiny.pt" in client.get("/api/methods").json()["inpainting"]
        response = client.post(
            "/api/inpaint",
            files=_files(sample, "image", "mask"),
            data={"method": "checkpoint:tiny.pt"},
        )
    assert response.status_code == 200, response.text
    out = _decode(response.content)
    hole = sample["mask"] > 127
    np.testing.assert_array_equal(out[~hole], sample["image"][~hole])


# ------------------------------------------------------------------------------- errors


def test_upload_over_the_byte_limit(sample: dict) -> None:
    limits = ServerLimits(max_upload_bytes=3000)
    with TestClient(create_api(limits=limits)) as client:
        files = _files(sample, "image", "mask")
        assert len(files["image"][1]) > 3000 > len(files["mask"][1])
        response = client.post("/api/inpaint", files=files)
        assert response.status_code == 413
        assert response.json()["detail"] == (
            "the image upload is larger than the limit of 0.00286 MiB (3000 bytes) per file"
        )
        # A body far over the limit is refused from its Content-Length, before it is read.
        big = _png((np.random.default_rng(1).random((256, 256, 3)) * 255).astype(np.uint8))
        response = client.post(
            "/api/inpaint", files={"image": ("a.png", big), "mask": files["mask"]}
        )
        assert response.status_code == 413
        assert (
            "larger than the limit of 71536 bytes for /api/inpaint (2 files of at most 3000"
            in (response.json()["detail"])
        )
        # Without a Content-Length (chunked), the bytes received are counted.
        body = b"--x\r\n" + b"a" * 100_000

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 8192):
                yield body[start : start + 8192]

        response = client.post(
            "/api/matte",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert response.status_code == 413
        assert "limit of 74536 bytes for /api/matte" in response.json()["detail"]


def test_image_over_the_pixel_limit(sample: dict) -> None:
    with TestClient(create_api(limits=ServerLimits(max_pixels=2000))) as client:
        response = client.post("/api/matte", files=_files(sample, "image", "trimap"))
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "the image is 48x48 = 2304 pixels, more than the limit of 2000 pixels; downscale it, "
        "or raise the limit (the server's --max-pixels)"
    )


def test_bad_inputs_are_400(client: TestClient, sample: dict) -> None:
    def detail(url: str, files: dict, data: dict | None = None) -> str:
        response = client.post(url, files=files, data=data or {})
        assert response.status_code == 400, response.text
        return response.json()["detail"]

    files = _files(sample, "image", "mask")
    corrupt = {"image": ("a.png", b"\x89PNG\r\n\x1a\n not really"), "mask": files["mask"]}
    assert detail("/api/inpaint", corrupt).startswith("cannot read the image upload")
    text = {"image": files["image"], "mask": ("m.png", b"hello world")}
    assert detail("/api/inpaint", text) == (
        "cannot read the mask upload: it is not an image file (expected PNG, JPEG, BMP, TIFF, WEBP)"
    )
    empty = {"image": files["image"], "mask": ("m.png", b"")}
    assert detail("/api/inpaint", empty) == "the mask upload is empty"
    small = {"image": files["image"], "mask": ("m.png", _png(sample["mask"][:40]))}
    assert detail("/api/inpaint", small) == "mask size 48x40 does not match image size 48x48"
    message = detail("/api/inpaint", files, {"method": "nope"})
    assert message.startswith("unknown inpainting method 'nope'; valid names: ")
    assert "telea" in message and "biharmonic" in message
    message = detail("/api/matte", _files(sample, "image", "trimap"), {"method": "telea"})
    assert "unknown matting method 'telea'; valid names: " in message and "closed_form" in message
    assert detail("/api/matte", _files(sample, "image"), {"method": "closed_form"}) == (
        "matting method 'closed_form' needs a trimap, and none was given"
    )
    assert "give a trimap (0 / 128 / 255) or a clean background" in detail(
        "/api/matte", _files(sample, "image")
    )
    assert (
        detail(
            "/api/matte", _files(sample, "image", "trimap", "background"), {"method": "closed_form"}
        )
        == "matting method 'closed_form' does not use a background image (it needs trimap)"
    )
    grey = sample["trimap"].copy()
    grey[0, :5] = 60
    bad_trimap = {"image": files["image"], "trimap": ("t.png", _png(grey))}
    assert detail("/api/matte", bad_trimap) == (
        "the trimap upload has values other than 0/128/255 (tolerance 10): 60 (5 pixels)"
    )


def test_missing_or_malformed_fields_are_422(client: TestClient, sample: dict) -> None:
    missing = client.post("/api/inpaint", files=_files(sample, "image"))
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "mask"]
    assert client.post("/api/matte", files=_files(sample, "trimap")).status_code == 422
    bad_output = client.post(
        "/api/matte", files=_files(sample, "image", "trimap"), data={"output": "jpeg"}
    )
    assert bad_output.status_code == 422
    bad_strategy = client.post(
        "/api/inpaint", files=_files(sample, "image", "mask"), data={"strategy": "tiles"}
    )
    assert bad_strategy.status_code == 422


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_concurrent must be >= 1, got 0"):
        ServerLimits(max_concurrent=0)
    with pytest.raises(TypeError, match="max_pixels must be an int, got 1.5"):
        ServerLimits(max_pixels=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limits must be a ServerLimits"):
        create_api(limits={"max_pixels": 10})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- queueing


class BlockingInpainter:
    """Copies the image once the test sets ``release``, recording how many calls ran at once.

    Jobs block until the test lets them go, so the tests see every request queued at the same
    moment (no reliance on sleeps overlapping).
    """

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            if not self.release.wait(timeout=60):
                raise RuntimeError("the test never released the job")
            return image.clone()
        finally:
            with self.lock:
                self.active -= 1


def _health(url: str) -> dict:
    return httpx.get(f"{url}/api/health", timeout=10).json()


def _queue(url: str) -> tuple[int, int]:
    """(running, waiting) as /api/health reports them."""
    health = _health(url)
    return health["running"], health["waiting"]


def _post(url: str, sample: dict) -> httpx.Response:
    with httpx.Client(timeout=60) as http:
        return http.post(
            f"{url}/api/inpaint", files=_files(sample, "image", "mask"), data={"method": "blocking"}
        )


@pytest.mark.parametrize("max_concurrent", [1, 2])
def test_concurrent_requests_queue(live_server, sample: dict, max_concurrent: int) -> None:
    blocking = BlockingInpainter()
    catalog = MethodCatalog(inpainters={"blocking": blocking})
    limits = ServerLimits(max_concurrent=max_concurrent, max_queue=8)
    with live_server(create_api(catalog, limits)) as url, ThreadPoolExecutor(6) as pool:
        try:
            futures = [pool.submit(_post, url, sample) for _ in range(6)]
            # All six are in: max_concurrent run (held by the test), the others wait their turn.
            _wait_until(
                lambda: (
                    _queue(url) == (max_concurrent, 6 - max_concurrent)
                    and blocking.active == max_concurrent
                ),
                f"{max_concurrent} running and {6 - max_concurrent} waiting",
            )
            assert blocking.calls == max_concurrent
        finally:
            blocking.release.set()
        responses = [future.result() for future in futures]
        assert _queue(url) == (0, 0)
    assert [r.status_code for r in responses] == [200] * 6
    assert blocking.calls == 6 and blocking.peak == max_concurrent
    for response in responses:
        np.testing.assert_array_equal(_decode(response.content), sample["image"])


def test_full_queue_answers_503(live_server, sample: dict) -> None:
    blocking = BlockingInpainter()
    catalog = MethodCatalog(inpainters={"blocking": blocking})
    with (
        live_server(create_api(catalog, ServerLimits(max_queue=1))) as url,
        ThreadPoolExecutor(2) as pool,
    ):
        try:
            first = pool.submit(_post, url, sample)
            _wait_until(lambda: blocking.active == 1, "the first job to run")
            second = pool.submit(_post, url, sample)
            _wait_until(lambda: _queue(url) == (1, 1), "the second job to wait")
            refused = [_post(url, sample) for _ in range(3)]  # the queue is full
        finally:
            blocking.release.set()
        accepted = [first.result(), second.result()]
    assert [r.status_code for r in accepted] == [200, 200]
    assert blocking.calls == 2 and blocking.peak == 1
    for response in refused:
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["detail"] == (
            "the server is busy: 1 job(s) running and 1 waiting (limit 1); try again later"
        )


# ------------------------------------------------------------------------------- disconnects


def _send_and_stay(url: str, sample: dict) -> socket.socket:
    """Send a whole /api/inpaint request on a raw socket and return it, without reading the
    answer: closing the socket is a client that disconnects while its job waits or runs."""
    request = httpx.Request(
        "POST", f"{url}/api/inpaint", files=_files(sample, "image", "mask"),
        data={"method": "blocking"},
    )  # fmt: skip
    body = request.read()
    head = "".join(f"{key}: {value}\r\n" for key, value in request.headers.items())
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /api/inpaint HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body)
    return sock


def test_a_waiting_job_whose_client_left_never_runs(live_server, sample: dict) -> None:
    blocking = BlockingInpainter()
    catalog = MethodCatalog(inpainters={"blocking": blocking})
    limits = ServerLimits(max_concurrent=1, max_queue=1)
    with live_server(create_api(catalog, limits)) as url, ThreadPoolExecutor(2) as pool:
        try:
            first = pool.submit(_post, url, sample)
            _wait_until(lambda: blocking.active == 1, "the first job to run")
            leaver = _send_and_stay(url, sample)
            _wait_until(lambda: _queue(url) == (1, 1), "the second job to wait")
            leaver.close()
            # Its place is free at once, while the first job still runs ...
            _wait_until(lambda: _queue(url) == (1, 0), "the gone client's place to be freed")
            assert blocking.active == 1
            # ... so a new request may wait there (with max_queue=1 it would get 503 otherwise).
            second = pool.submit(_post, url, sample)
            _wait_until(lambda: _queue(url) == (1, 1), "the new job to wait")
        finally:
            blocking.release.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
        assert _queue(url) == (0, 0)
    assert blocking.calls == 2  # the job of the client that left never ran


def test_a_running_job_whose_client_left_frees_its_slot(live_server, sample: dict) -> None:
    blocking = BlockingInpainter()
    catalog = MethodCatalog(inpainters={"blocking": blocking})
    limits = ServerLimits(max_concurrent=1, max_queue=1)
    image = sample["image"].astype(np.float32) / 255
    hole = sample["mask"] > 127
    with live_server(create_api(catalog, limits)) as url, ThreadPoolExecutor(1) as pool:
        try:
            # A job of the web UI holds the process-wide work slot (shared with the API) ...
            ui_job = pool.submit(run_inpaint, catalog, image, hole, "blocking")
            _wait_until(lambda: blocking.active == 1, "the UI job to run")
            # ... so the API job, admitted by the gate, runs but waits inside for that slot.
            leaver = _send_and_stay(url, sample)
            _wait_until(lambda: _queue(url) == (1, 0), "the API job to run")
            leaver.close()
            # It stops at its next check and frees its slot, long before the UI job ends.
            _wait_until(lambda: _queue(url) == (0, 0), "the gone client's slot to be freed")
            assert blocking.active == 1 and blocking.calls == 1
        finally:
            blocking.release.set()
        np.testing.assert_array_equal(ui_job.result(), image)
        response = _post(url, sample)  # neither slot was leaked
        assert response.status_code == 200
    assert blocking.calls == 2


def test_job_gate_tells_a_running_job_that_its_client_went() -> None:
    import anyio

    gate = JobGate(ServerLimits(max_concurrent=1, max_queue=1))
    started = threading.Event()
    seen: dict[str, bool] = {}

    def job(cancel: threading.Event) -> str:
        started.set()
        seen["told"] = cancel.wait(timeout=10)  # set by the gate once the client is gone
        check_cancelled(cancel)
        return "finished"

    async def main() -> None:
        gone = anyio.Event()

        async def disconnect_once_running() -> None:
            while not started.is_set():
                await anyio.sleep(0.01)
            gone.set()

        async with anyio.create_task_group() as group:
            group.start_soon(disconnect_once_running)
            with pytest.raises(JobCancelledError, match="client disconnected"):
                await gate.run(job, client_gone=gone.wait)
        assert (gate.running, gate.waiting) == (0, 0)
        # A client that stays gets its result, and an error of the job comes out as itself.
        assert await gate.run(lambda cancel: "done", client_gone=anyio.Event().wait) == "done"
        with pytest.raises(ValueError, match="bad input"):
            await gate.run(_raise_value_error, client_gone=anyio.Event().wait)
        assert (gate.running, gate.waiting) == (0, 0)

    anyio.run(main)
    assert seen["told"] is True


def _raise_value_error(cancel: threading.Event) -> None:
    raise ValueError("bad input")


def test_run_inpaint_stops_between_crops_when_cancelled() -> None:
    cancel = threading.Event()
    calls: list[tuple[int, ...]] = []

    def cancelling_inpainter(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(image.shape))
        cancel.set()  # the client goes while the first crop is being filled
        return image.clone()

    catalog = MethodCatalog(inpainters={"cancelling": cancelling_inpainter})
    image = np.random.default_rng(0).random((200, 200, 3)).astype(np.float32)
    hole = np.zeros((200, 200), bool)
    hole[10:20, 10:20] = hole[170:180, 170:180] = True  # two far-apart holes: two crops
    run_inpaint(catalog, image, hole, "cancelling", strategy="crop")
    assert len(calls) == 2  # without a cancel event: one call per crop
    calls.clear()
    cancel.clear()
    with pytest.raises(JobCancelledError):
        run_inpaint(catalog, image, hole, "cancelling", strategy="crop", cancel=cancel)
    assert len(calls) == 1


# ------------------------------------------------------------------------------- server + CLI


def test_create_server_mounts_the_ui() -> None:
    pytest.importorskip("gradio")
    with TestClient(create_server(ui=True)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert client.get("/api/health").json()["status"] == "ok"  # the API wins over the mount


def test_create_server_without_ui_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mattepaint.server.ui", None)  # import fails
    with pytest.raises(RuntimeError, match=r"web UI cannot be loaded .*--no-ui"):
        create_server(ui=True)
    assert create_server(ui=False).title == "mattepaint"


def test_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--checkpoint",
        "--models-dir",
        "--max-upload-mb",
        "--max-pixels",
        "--max-concurrent",
        "--max-queue",
        "--no-ui",
    ):
        assert flag in out


def test_serve_flags_map_onto_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import mattepaint.server

    calls: list[dict] = []
    monkeypatch.setattr(mattepaint.server, "serve", lambda **kwargs: calls.append(kwargs))
    argv = [
        "serve",
        "--port",
        "9000",
        "--checkpoint",
        "a.pt",
        "--checkpoint",
        "b.pt",
        "--max-upload-mb",
        "1.5",
        "--max-pixels",
        "1000",
        "--max-concurrent",
        "2",
        "--max-queue",
        "0",
        "--no-ui",
    ]
    assert cli.main(argv) == 0
    assert calls == [
        {
            "host": "127.0.0.1",
            "port": 9000,
            "checkpoints": [Path("a.pt"), Path("b.pt")],
            "models_dir": None,
            "limits": ServerLimits(
                max_upload_bytes=1572864, max_pixels=1000, max_concurrent=2, max_queue=0
            ),
            "ui": False,
            "device": "cpu",
            "segmenters": [],
            "check_with": None,
        }
    ]
    assert cli.main(["serve", "--max-upload-mb", "0"]) == 2
