"""Tests for the HTTP API (mattepaint.server.api / create_server) and `mattepaint serve`."""

from __future__ import annotations

import io as bytes_io
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from mattepaint import cli, io
from mattepaint.methods import get_inpainter, get_matter
from mattepaint.models.loading import CHECKPOINT_FORMAT
from mattepaint.models.registry import build_model
from mattepaint.server import MethodCatalog, ServerLimits, create_server
from mattepaint.server.api import create_api

SIZE = 48


def _png(array: np.ndarray) -> bytes:
    buffer = bytes_io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(bytes_io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


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
    grown = client.post(
        "/api/inpaint", files=_files(sample, "image", "mask"), data={"dilate": "3"}
    )
    assert grown.status_code == 200
    out = _decode(grown.content)
    hole = sample["mask"] > 127
    ring = np.zeros_like(hole)
    ring[7:25, 11:37] = True  # the hole grown by 3 px (a disk: corners stay, rows/cols grow)
    np.testing.assert_array_equal(out[~ring], sample["image"][~ring])
    assert not np.array_equal(out, plain)  # more pixels were filled
    bad = client.post("/api/inpaint", files=_files(sample, "image", "mask"), data={"dilate": -1})
    assert bad.status_code == 422


def test_exif_rotated_jpeg_follows_io_rules(client: TestClient, sample: dict) -> None:
    stored = Image.fromarray(sample["image"][:30, :40])  # 40 wide, 30 high on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise: shown 30 wide, 40 high
    buffer = bytes_io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes())
    jpeg = buffer.getvalue()
    mask = np.zeros((40, 30), np.uint8)
    mask[5:15, 5:20] = 255
    ok = client.post("/api/inpaint", files={"image": ("a.jpg", jpeg), "mask": ("m.png", _png(mask))})
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
    # Independent computation: closed_form called directly on the decoded inputs.
    image = sample["image"].astype(np.float32) / 255
    trimap = (sample["trimap"] / 255.0).round(1).astype(np.float32)  # 0 / 0.5 / 1
    result = get_matter("closed_form")(io.to_tensor(image), trimap=io.to_tensor(trimap))
    expected = _to_uint8(io.to_numpy(result.alpha))
    assert np.abs(alpha.astype(int) - expected).max() <= 1
    assert (alpha[sample["trimap"] == 0] == 0).all() and (alpha[sample["trimap"] == 255] == 255).all()

    rgba = _decode(client.post("/api/matte", files=files).content)  # default output: rgba
    assert rgba.shape == (SIZE, SIZE, 4)
    np.testing.assert_array_equal(rgba[..., 3], alpha)
    fg = _decode(client.post("/api/matte", files=files, data={"output": "foreground"}).content)
    assert fg.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(rgba[..., :3], fg)
    named = client.post("/api/matte", files=files, data={"method": "closed_form", "output": "alpha"})
    np.testing.assert_array_equal(_decode(named.content), alpha)


def test_matte_with_background(client: TestClient, sample: dict) -> None:
    response = client.post(
        "/api/matte", files=_files(sample, "image", "background"), data={"output": "alpha"}
    )
    assert response.status_code == 200, response.text
    alpha = _decode(response.content)
    image = sample["image"].astype(np.float32) / 255
    background = sample["background"].astype(np.float32) / 255
    result = get_matter("background_difference")(
        io.to_tensor(image), background=io.to_tensor(background)
    )
    assert np.abs(alpha.astype(int) - _to_uint8(io.to_numpy(result.alpha))).max() <= 1
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(yy - 24, xx - 24)
    assert alpha[radius < 8].mean() > 200 and alpha[radius > 18].mean() < 30


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
        response = client.post("/api/inpaint", files={"image": ("a.png", big), "mask": files["mask"]})
        assert response.status_code == 413
        assert "larger than the limit of 71536 bytes for /api/inpaint (2 files of at most 3000" in (
            response.json()["detail"]
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
        "the image is 48x48 = 2304 pixels, more than the limit of 2000 pixels"
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
        "cannot read the mask upload: it is not an image file "
        "(expected PNG, JPEG, BMP, TIFF, WEBP)"
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
    assert detail(
        "/api/matte", _files(sample, "image", "trimap", "background"), {"method": "closed_form"}
    ) == "matting method 'closed_form' does not use a background image (it needs trimap)"
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


class SlowInpainter:
    """Copies the image after a pause, recording how many calls ran at the same time."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.seconds)
            return image.clone()
        finally:
            with self.lock:
                self.active -= 1


@contextmanager
def _running_server(app: object) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _fire(url: str, sample: dict, n: int) -> list[httpx.Response]:
    files = _files(sample, "image", "mask")

    def post(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.post(f"{url}/api/inpaint", files=files, data={"method": "slow"})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(post, range(n)))


@pytest.mark.parametrize("max_concurrent", [1, 2])
def test_concurrent_requests_queue(sample: dict, max_concurrent: int) -> None:
    slow = SlowInpainter(0.25)
    catalog = MethodCatalog(inpainters={"slow": slow})
    limits = ServerLimits(max_concurrent=max_concurrent, max_queue=8)
    with _running_server(create_api(catalog, limits)) as url:
        responses = _fire(url, sample, 6)
        health = httpx.get(f"{url}/api/health").json()
    assert [r.status_code for r in responses] == [200] * 6
    assert slow.calls == 6 and slow.peak == max_concurrent
    for response in responses:
        np.testing.assert_array_equal(_decode(response.content), sample["image"])
    assert health["running"] == 0 and health["waiting"] == 0


def test_full_queue_answers_503(sample: dict) -> None:
    slow = SlowInpainter(0.5)
    catalog = MethodCatalog(inpainters={"slow": slow})
    with _running_server(create_api(catalog, ServerLimits(max_queue=1))) as url:
        responses = _fire(url, sample, 6)
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 503} and codes.count(200) >= 2 and codes.count(503) >= 1
    assert slow.peak == 1 and slow.calls == codes.count(200)
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 1
            # between two jobs the waiting one may not have started yet: "0 job(s) running"
            detail = response.json()["detail"]
            assert re.match(r"the server is busy: [01] job\(s\) running and 1 waiting", detail)


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
    for flag in ("--host", "--port", "--checkpoint", "--models-dir", "--max-upload-mb",
                 "--max-pixels", "--max-concurrent", "--max-queue", "--no-ui"):
        assert flag in out


def test_serve_flags_map_onto_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import mattepaint.server

    calls: list[dict] = []
    monkeypatch.setattr(mattepaint.server, "serve", lambda **kwargs: calls.append(kwargs))
    argv = ["serve", "--port", "9000", "--checkpoint", "a.pt", "--checkpoint", "b.pt",
            "--max-upload-mb", "1.5", "--max-pixels", "1000", "--max-concurrent", "2",
            "--max-queue", "0", "--no-ui"]
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
        }
    ]
    assert cli.main(["serve", "--max-upload-mb", "0"]) == 2
