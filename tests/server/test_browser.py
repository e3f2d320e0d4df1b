"""End-to-end test of the web UI in a real browser (Chromium driven by Playwright).

The server is the real one (``create_server`` with a ``MethodCatalog`` and ``ServerLimits``),
served by uvicorn on a free 127.0.0.1 port. The browser is the system Chromium
(``/usr/bin/chromium`` or ``$MATTEPAINT_CHROMIUM``); Playwright never downloads one. Without a
Chromium or without the ``playwright`` package the tests are skipped, with the reason.

What is checked:
- Inpaint: upload a 256 x 256 picture, paint a stroke with the mouse, run Telea, download the PNG.
  The stroke's page coordinates are mapped to image pixels from the canvas bounding box and the
  editor's zoom (the picture is drawn centred in the canvas, scaled by the zoom shown in the
  toolbar). The result must differ from the input inside the stroke (its centre band) and be
  bit-identical outside a band of the brush radius plus a margin around it.
- Matte: upload a picture and its trimap, run closed_form, read the alpha matte shown in the page:
  right size, IoU > 0.9 against the true alpha, and equal (to 8-bit rounding) to what
  ``services.run_matte`` gives on the same files, so the page and the API share one code path.
- Cut-out: upload a picture alone and run the Matte tab's automatic mode (the shipped segmenter,
  automatic trimap, closed_form on the band): IoU > 0.8 against the true alpha, the mask, trimap
  and cut-out shown, and the same alpha as ``services.run_cutout``.
- Errors: user mistakes appear as a one-sentence message in the page, never a traceback.

Full-page screenshots of the Inpaint tab and of the automatic cut-out go to ``tmp_path`` and, when
``$MATTEPAINT_SCREENSHOT_DIR`` is set, to ``app_screenshot.png`` and
``app_cutout_screenshot.png`` there.
"""

from __future__ import annotations

import io as bytes_io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from mattepaint import io, samples
from mattepaint.metrics.matting import alpha_iou
from mattepaint.server import MethodCatalog, ServerLimits, create_server, services
from mattepaint.server.ui import DEFAULT_BRUSH_SIZE

CHROMIUM = Path(os.environ.get("MATTEPAINT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 30_000
SIZE = 256  # inpainting test picture, (SIZE, SIZE)
MATTE_SIZE = 192  # matting sample; at 128 the thin strands make IoU@0.5 noisy (~0.84)
MAX_PIXELS = 400 * 400  # server limit for this test: a 420 x 420 upload is refused
# the stroke, in image pixels (x, y): left to right across sky, horizon and stripes
STROKE = [(60, 205), (90, 195), (120, 185), (150, 175), (180, 165), (200, 150)]
MARGIN = 4  # pixels of slack around the brush radius (zoom rounding, antialiasing)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _sync_playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (install Debian's chromium, or point "
            "MATTEPAINT_CHROMIUM at a Chromium binary)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; no browser download)")
    return sync_playwright


@pytest.fixture(scope="module")
def server_url(live_server: Any) -> Iterator[str]:
    """The real server (API + UI) on a free local port."""
    app = create_server(MethodCatalog(), ServerLimits(max_pixels=MAX_PIXELS))
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium, launched once for the module."""
    sync_playwright = _sync_playwright()
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh page on the app; fails the test on a page error (an uncaught exception)."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url + "/")
    page.wait_for_selector("#inpaint-editor")
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


# ------------------------------------------------------------------------------------------
# helpers


def _png_array(data: bytes) -> np.ndarray:
    with Image.open(bytes_io.BytesIO(data)) as im:
        return np.asarray(im)


def _fetch(page: Any, url: str) -> bytes:
    """GET a URL of the page (a gradio file URL) with the page's cookies."""
    response = page.request.get(url)
    assert response.ok, f"GET {url} -> {response.status}"
    return response.body()


def _choose(page: Any, elem_id: str, option: str) -> None:
    """Pick ``option`` in a gr.Dropdown."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    assert page.locator(f"#{elem_id} input").input_value() == option


def _toast_texts(page: Any) -> list[str]:
    page.wait_for_selector("[data-testid=toast-text]")
    return page.locator("[data-testid=toast-text]").all_inner_texts()


def _assert_no_traceback(page: Any) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and 'File "' not in text, text[:2000]


def _upload_to_editor(page: Any, path: Path) -> None:
    """Upload a picture into the ImageEditor once its drawing engine is ready.

    The editor (pixi.js) creates its canvas, then loads its renderer code and builds its layers;
    a file set before that is lost (a page error "reading 'reset_layers'"). Waiting for the
    canvas and then for the network to go idle (the renderer's code is loaded) avoids that.
    """
    page.locator("#inpaint-editor canvas").first.wait_for(state="attached")
    page.wait_for_load_state("networkidle")
    page.locator("#inpaint-editor input[type=file]").first.set_input_files(str(path))
    page.locator("#inpaint-editor .zoom-number").wait_for()
    page.wait_for_load_state("networkidle")


def _settled_zoom(page: Any, *, quiet_s: float = 0.6, timeout_s: float = 15.0) -> float:
    """The editor's zoom (1.0 = 100 %) once its toolbar value has not changed for ``quiet_s``.

    After an upload the editor first shows the picture at some zoom and then animates to fit it
    into the canvas; reading the zoom mid-way would misplace the stroke.
    """
    label = page.locator("#inpaint-editor .zoom-number")
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while True:
        text = label.inner_text().strip()
        now = time.monotonic()
        if text != last:
            last, since = text, now
        elif now - since >= quiet_s:
            break
        assert now < deadline, f"the editor zoom did not settle (last {last!r})"
        time.sleep(0.1)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", last)
    assert match, f"cannot read the editor zoom from {last!r}"
    return float(match.group(1)) / 100.0


def _editor_mapping(page: Any, picture: np.ndarray) -> tuple[float, float, float]:
    """Page coordinates of image pixel (0, 0)'s corner and the scale (page px per image px).

    The editor draws the picture centred in its canvas, scaled by the zoom in its toolbar. The
    mapping is accepted once a screenshot shows the picture's colours at the mapped places
    (mean error over a 25 x 25 grid of pixels below 8 / 255).
    """
    h, w = picture.shape[:2]
    grid = [(int(x), int(y)) for y in np.linspace(8, h - 9, 25) for x in np.linspace(8, w - 9, 25)]
    deadline = time.monotonic() + 15.0
    while True:
        scale = _settled_zoom(page)
        box = page.locator("#inpaint-editor canvas").first.bounding_box()
        left = box["x"] + box["width"] / 2 - scale * w / 2
        top = box["y"] + box["height"] / 2 - scale * h / 2
        shot = _png_array(page.screenshot())[..., :3].astype(int)  # (viewport H, W, 3)
        errors = [
            np.abs(
                shot[int(top + (y + 0.5) * scale), int(left + (x + 0.5) * scale)]
                - picture[y, x].astype(int)
            ).max()
            for x, y in grid
        ]
        if np.mean(errors) < 8:  # right place: ~4; one pixel off: ~8; two: ~11
            return left, top, scale
        assert time.monotonic() < deadline, (
            f"the picture is not where the canvas box {box} and zoom {scale} put it "
            f"(mean colour error {np.mean(errors):.1f} / 255)"
        )
        time.sleep(0.2)


def _paint(page: Any, points: list[tuple[int, int]], mapping: tuple[float, float, float]) -> None:
    left, top, scale = mapping

    def to_page(x: float, y: float) -> tuple[float, float]:
        return left + (x + 0.5) * scale, top + (y + 0.5) * scale  # centre of pixel (x, y)

    page.mouse.move(*to_page(*points[0]))
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*to_page(x, y), steps=3)  # each move redraws the canvas (slow)
    page.mouse.up()


def _stroke_band(shape: tuple[int, int], points: list[tuple[int, int]], radius: int) -> np.ndarray:
    """(H, W) bool: pixels within ``radius`` of the stroke's polyline (a round-capped line)."""
    band = np.zeros(shape, np.uint8)
    if radius <= 0:
        return band.astype(bool)
    cv2.polylines(band, [np.array(points, np.int32)], False, 1, thickness=2 * radius + 1)
    for x, y in points:  # round caps
        cv2.circle(band, (x, y), radius, 1, thickness=-1)
    return band.astype(bool)


def _run_and_read_alpha(page: Any, button: str) -> tuple[Any, np.ndarray]:
    """Click a Matte tab button, wait for the download link; (link, the alpha shown in the page
    as (MATTE_SIZE, MATTE_SIZE) float in [0, 1])."""
    page.click(button)
    link = page.locator("#matte-download a").first
    link.wait_for()
    alpha = _png_array(_fetch(page, page.locator("#matte-alpha img").first.get_attribute("src")))
    assert alpha.shape == (MATTE_SIZE, MATTE_SIZE), alpha.shape
    return link, alpha.astype(np.float32) / 255.0


def _save_screenshot(
    page: Any, tmp_path: Path, name: str, published: str = "app_screenshot.png"
) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    out_dir = os.environ.get("MATTEPAINT_SCREENSHOT_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out_dir) / published)
    return path


# ------------------------------------------------------------------------------------------
# tests


def test_inpaint_stroke_round_trip(page: Any, tmp_path: Path) -> None:
    picture = samples.make_inpainting_sample((SIZE, SIZE), seed=0).clean
    input_path = io.save_image(tmp_path / "picture.png", picture)
    original = np.asarray(Image.open(input_path).convert("RGB"))  # (H, W, 3) uint8

    _upload_to_editor(page, input_path)
    mapping = _editor_mapping(page, original)
    _paint(page, STROKE, mapping)
    _choose(page, "inpaint-method", "telea")
    page.click("#inpaint-run")

    link = page.locator("#inpaint-download a").first
    link.wait_for()
    result = _png_array(_fetch(page, link.get_attribute("href")))
    assert result.shape == original.shape, (result.shape, original.shape)
    assert page.locator("#inpaint-result img").count() >= 2  # before / after slider

    changed = (result != original).any(axis=2)  # (H, W)
    inside = _stroke_band((SIZE, SIZE), STROKE, DEFAULT_BRUSH_SIZE - MARGIN)
    outside = ~_stroke_band((SIZE, SIZE), STROKE, DEFAULT_BRUSH_SIZE + MARGIN)
    assert changed[inside].mean() > 0.9, f"only {changed[inside].mean():.2f} of the stroke changed"
    ys, xs = np.nonzero(changed & outside)
    assert not len(ys), f"{len(ys)} pixels changed outside the stroke, e.g. (x, y) {xs[0], ys[0]}"
    assert np.array_equal(result[outside], original[outside])

    _save_screenshot(page, tmp_path, "app_inpaint.png")
    _assert_no_traceback(page)


def test_matte_round_trip(page: Any, tmp_path: Path) -> None:
    sample = samples.make_matting_sample((MATTE_SIZE, MATTE_SIZE), seed=0)
    image_path = io.save_image(tmp_path / "image.png", sample.image)
    trimap_path = io.save_trimap(tmp_path / "trimap.png", sample.trimap)

    page.click("#tab-matte-button")
    page.locator("#matte-image input[type=file]").set_input_files(str(image_path))
    page.locator("#matte-trimap input[type=file]").set_input_files(str(trimap_path))
    page.locator("#matte-image img").first.wait_for()
    page.locator("#matte-trimap img").first.wait_for()
    _choose(page, "matte-method", "closed_form")
    link, alpha = _run_and_read_alpha(page, "#matte-run")
    assert alpha_iou(alpha, sample.alpha) > 0.9

    # the page's result is the service's result on the same files (8-bit rounding apart)
    image = io.load_image(image_path)
    trimap = io.load_trimap(trimap_path, like=image)
    expected, _ = services.run_matte(MethodCatalog(), image, trimap=trimap, method="closed_form")
    assert np.abs(alpha - expected).max() <= 1.0 / 255.0 + 1e-6

    rgba = _png_array(_fetch(page, link.get_attribute("href")))
    assert rgba.shape == (MATTE_SIZE, MATTE_SIZE, 4), rgba.shape
    assert np.array_equal(rgba[..., 3], np.round(alpha * 255).astype(np.uint8))
    assert page.locator("#matte-cutout img").count() == 1
    _assert_no_traceback(page)


def test_automatic_cutout_round_trip(page: Any, tmp_path: Path) -> None:
    """The Matte tab's automatic mode with the shipped segmenter: no trimap, no background."""
    sample = samples.make_matting_sample((MATTE_SIZE, MATTE_SIZE), seed=0)
    image_path = io.save_image(tmp_path / "image.png", sample.image)

    page.click("#tab-matte-button")
    page.locator("#matte-image input[type=file]").set_input_files(str(image_path))
    page.locator("#matte-image img").first.wait_for()
    page.locator("#matte-scribbles canvas").first.wait_for()  # the photo, ready for strokes
    _, alpha = _run_and_read_alpha(page, "#matte-auto-run")
    assert alpha_iou(alpha, sample.alpha) > 0.8  # found the subject without any trimap
    for elem_id in ("matte-soft-mask", "matte-auto-trimap", "matte-cutout"):
        assert page.locator(f"#{elem_id} img").count() == 1, elem_id

    # the page's result is the service's result on the same file (8-bit rounding apart)
    expected = services.run_cutout(MethodCatalog(), io.load_image(image_path))
    assert np.abs(alpha - expected.alpha).max() <= 1.0 / 255.0 + 1e-6
    _save_screenshot(page, tmp_path, "app_cutout.png", published="app_cutout_screenshot.png")
    _assert_no_traceback(page)


def test_error_run_without_image(page: Any) -> None:
    page.click("#inpaint-run")
    texts = _toast_texts(page)
    assert any("Upload an image into the editor first." in t for t in texts), texts
    _assert_no_traceback(page)


def test_error_nothing_painted(page: Any, tmp_path: Path) -> None:
    picture = samples.make_inpainting_sample((64, 64), seed=1).clean
    _upload_to_editor(page, io.save_image(tmp_path / "small.png", picture))
    page.click("#inpaint-run")
    texts = _toast_texts(page)
    assert any(t.startswith("The mask is empty: paint over") for t in texts), texts
    _assert_no_traceback(page)


def test_error_image_too_large(page: Any, tmp_path: Path) -> None:
    big = np.full((420, 420, 3), 0.5, np.float32)
    _upload_to_editor(page, io.save_image(tmp_path / "big.png", big))
    page.click("#inpaint-run")
    texts = _toast_texts(page)
    expected = f"The image is too large: 420 x 420 = 176400 pixels, the limit is {MAX_PIXELS}"
    assert any(t.startswith(expected) for t in texts), texts
    _assert_no_traceback(page)


def test_error_matte_without_trimap_or_background(page: Any, tmp_path: Path) -> None:
    sample = samples.make_matting_sample((64, 64), seed=0)
    page.click("#tab-matte-button")
    page.locator("#matte-image input[type=file]").set_input_files(
        str(io.save_image(tmp_path / "image.png", sample.image))
    )
    page.locator("#matte-image img").first.wait_for()
    page.click("#matte-run")
    texts = _toast_texts(page)
    assert any(t.startswith("Upload a trimap (0 / 128 / 255) or a clean background") for t in texts)
    _assert_no_traceback(page)
