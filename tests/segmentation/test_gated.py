"""GatedSegmenter: a specialist's mask where a general segmenter agrees, the general one's else."""

from __future__ import annotations

import pytest
import torch

from mattepaint.segmentation import GatedSegmenter, Segmenter
from mattepaint.segmentation.gated import mask_iou


class Box:
    """Soft mask 0.9 inside rows [top, top + 8) and columns [0, 8) of a 16 x 16 image."""

    def __init__(self, top: int, name: str) -> None:
        self.top, self.name, self.calls = top, name, 0

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = torch.zeros(image.shape[0], 1, *image.shape[-2:])
        out[..., self.top : self.top + 8, :8] = 0.9
        return out


def test_mask_iou_of_known_boxes_and_empty_masks() -> None:
    a, b = Box(0, "a")(torch.zeros(2, 3, 16, 16)), Box(4, "b")(torch.zeros(2, 3, 16, 16))
    torch.testing.assert_close(mask_iou(a, b), torch.tensor([1 / 3, 1 / 3]))  # 32 / 96
    torch.testing.assert_close(mask_iou(a, a), torch.ones(2))
    empty = torch.zeros(1, 1, 4, 4)
    assert mask_iou(empty, empty).tolist() == [1.0]
    with pytest.raises(ValueError, match="same shape"):
        mask_iou(a, empty)


@pytest.mark.parametrize(
    ("min_iou", "choice"), [(0.3, "specialist"), (1 / 3, "specialist"), (0.34, "general")]
)
def test_the_gate_picks_by_agreement(min_iou: float, choice: str) -> None:
    specialist, general = Box(0, "spec"), Box(4, "gen")
    seg = GatedSegmenter(specialist, general, min_iou=min_iou)
    image = torch.rand(1, 3, 16, 16)
    expected = (specialist if choice == "specialist" else general)(image)
    torch.testing.assert_close(seg(image), expected)
    assert seg.last_choice == [choice]
    assert seg.last_iou == pytest.approx([1 / 3])
    assert isinstance(seg, Segmenter) and "spec checked by gen" in seg.name


def test_the_gate_is_per_image_of_a_batch() -> None:
    class PerImage:
        name = "varies"

        def __call__(self, image: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(2, 1, 16, 16)
            out[0, :, :8, :8] = 1.0  # agrees with Box(0) on image 0
            out[1, :, 8:, 8:] = 1.0  # disagrees on image 1
            return out

    seg = GatedSegmenter(PerImage(), Box(0, "gen"), min_iou=0.5)
    out = seg(torch.rand(2, 3, 16, 16))
    assert seg.last_choice == ["specialist", "general"]
    assert out[0, 0, 0, 0] == 1.0 and out[1, 0, 0, 0] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("kwargs", "error"), [({"min_iou": 1.5}, ValueError), ({"min_iou": "a"}, TypeError)]
)
def test_bad_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        GatedSegmenter(Box(0, "a"), Box(0, "b"), **kwargs)
    with pytest.raises(TypeError, match="specialist must be a Segmenter"):
        GatedSegmenter(3, Box(0, "b"))
    with pytest.raises(ValueError):
        GatedSegmenter(Box(0, "a"), Box(0, "b"))(torch.rand(3, 16, 16))
