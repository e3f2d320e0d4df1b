"""dim_matte: a DIM-style network that corrects a classical matte (identity at initialisation),
the classical prior it is given, and the wrapper that computes that prior at inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mattepaint.classical.prior import classical_prior
from mattepaint.classical.pymatting_methods import alpha_closed_form
from mattepaint.models.matter import ModelMatter
from mattepaint.models.registry import build_model
from mattepaint.samples import make_matting_sample

SMALL = {"encoder": "scratch", "width": 4, "full_width": 4, "refine_width": 4}


def _sample(size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(image (H, W, 3), trimap (H, W)) of the procedural furry object."""
    sample = make_matting_sample((size, size), seed=0)
    return sample.image, sample.trimap


def test_untrained_model_returns_its_prior_exactly():
    torch.manual_seed(0)
    model = build_model("dim_matte", **SMALL).eval()
    image = torch.rand(2, 3, 32, 32)
    trimap = torch.full((2, 1, 32, 32), 0.5)
    prior = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        out = model(image, trimap=trimap, prior=prior)
    assert torch.equal(out["alpha"], prior)
    assert torch.equal(out["coarse"], prior)


def test_prior_none_starts_from_the_trimap():
    model = build_model("dim_matte", **SMALL, prior="none").eval()
    assert model.prior is None
    trimap = torch.tensor([0.0, 0.5, 1.0]).repeat(32 * 32 // 3 + 1)[: 32 * 32].view(1, 1, 32, 32)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 32, 32), trimap=trimap)
    assert torch.equal(out["alpha"], trimap)


def test_missing_prior_is_a_clear_error():
    model = build_model("dim_matte", **SMALL)
    with pytest.raises(ValueError, match="prior="):
        model(torch.rand(1, 3, 32, 32), trimap=torch.full((1, 1, 32, 32), 0.5))


def test_bad_prior_name_is_refused():
    with pytest.raises(ValueError, match="prior must be one of"):
        build_model("dim_matte", **SMALL, prior="telea")


def test_training_moves_the_residual_heads():
    """The zero-initialised heads get gradients, so training can leave the identity."""
    torch.manual_seed(0)
    model = build_model("dim_matte", **SMALL)
    image, prior = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
    out = model(image, trimap=torch.full((2, 1, 32, 32), 0.5), prior=prior)
    (out["alpha"] - 0.5).abs().mean().backward()
    assert model.head.weight.grad.abs().sum() > 0
    assert model.refine[-1].weight.grad.abs().sum() > 0


def test_classical_prior_is_closed_form_and_handles_degenerate_trimaps():
    image, trimap = _sample()
    np.testing.assert_array_equal(
        classical_prior(image, trimap, "closed_form"), alpha_closed_form(image, trimap)
    )
    no_unknown = (trimap > 0.5).astype(np.float32)
    np.testing.assert_array_equal(classical_prior(image, no_unknown), no_unknown)
    no_foreground = np.where(trimap > 0.75, 0.5, trimap).astype(np.float32)
    out = classical_prior(image, no_foreground)
    assert set(np.unique(out)) <= {0.0, 0.5}
    with pytest.raises(ValueError, match="prior method"):
        classical_prior(image, trimap, "telea")
    from mattepaint.classical import alpha_cf_knn

    np.testing.assert_array_equal(
        classical_prior(image, trimap, "cf_knn"), alpha_cf_knn(image, trimap)
    )


def test_classical_prior_shared_matting_and_the_default_blend():
    from mattepaint.classical import alpha_cf_knn_sm, alpha_sm

    image, trimap = _sample()
    np.testing.assert_array_equal(classical_prior(image, trimap, "sm"), alpha_sm(image, trimap))
    np.testing.assert_array_equal(
        classical_prior(image, trimap, "cf_knn_sm"), alpha_cf_knn_sm(image, trimap)
    )
    # a composite a rounding error above 1 is clipped, not warned about per sample
    brighter = np.clip(image * 1.0, 0, 1)
    brighter[0, 0] = 1.0 + 1e-6
    np.testing.assert_array_equal(
        classical_prior(brighter, trimap, "sm"), alpha_sm(np.clip(brighter, 0, 1), trimap)
    )


def test_model_matter_computes_the_prior_so_an_untrained_model_equals_closed_form():
    image, trimap = _sample(40)  # not a multiple of the size multiple: the wrapper pads
    model = build_model("dim_matte", **SMALL)
    matter = ModelMatter(model, name="dim")
    assert matter.prior == "closed_form"
    result = matter(
        torch.from_numpy(image).permute(2, 0, 1)[None], trimap=torch.from_numpy(trimap)[None, None]
    )
    expected = alpha_closed_form(image, trimap)
    np.testing.assert_allclose(result.alpha[0, 0].numpy(), expected, atol=1e-6)


def test_composite_dataset_adds_the_prior(tmp_path):
    from mattepaint.data.matting import CompositeDataset
    from mattepaint.data.procedural import ProceduralForegrounds
    from mattepaint.io import save_image

    bg = tmp_path / "bg.png"
    save_image(bg, np.random.default_rng(0).random((64, 64, 3)).astype(np.float32))
    data = CompositeDataset([ProceduralForegrounds(2, size=48)], [bg], size=32, prior="closed_form")
    item = data[0]
    assert item["prior"].shape == (1, 32, 32)
    comp = item["comp"].permute(1, 2, 0).numpy()
    expected = classical_prior(comp, item["trimap"][0].numpy())
    np.testing.assert_array_equal(item["prior"][0].numpy(), expected)
    with pytest.raises(ValueError, match="prior must be None or one of"):
        CompositeDataset([ProceduralForegrounds(2, size=48)], [bg], size=32, prior="telea")
