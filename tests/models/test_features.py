"""Tests for mattepaint.models.layers.features: sequential_features on the critics' stacks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mattepaint.losses.perceptual import feature_matching_loss
from mattepaint.models.discriminators import PatchDiscriminator
from mattepaint.models.layers.features import sequential_features


def test_sequential_features_on_patch_discriminator() -> None:
    torch.manual_seed(0)
    disc = PatchDiscriminator(in_channels=4, base=4, n_layers=3)
    x = torch.rand(2, 4, 32, 32)
    out, feats = sequential_features(disc.net, x)
    assert torch.allclose(out, disc(x))
    assert len(feats) == 4  # one LeakyReLU per hidden conv
    assert [f.shape[1] for f in feats] == [4, 8, 16, 32]
    fake = torch.rand(2, 4, 32, 32, requires_grad=True)
    _, fake_feats = sequential_features(disc.net, fake)
    assert feature_matching_loss(feats, feats).item() == 0.0
    loss = feature_matching_loss(feats, fake_feats)
    loss.backward()
    assert loss.item() > 0 and fake.grad is not None


def test_sequential_features_nested_and_errors() -> None:
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 1)), nn.Tanh())
    out, feats = sequential_features(net, torch.rand(1, 3, 4, 4), layer_types=(nn.ReLU, nn.Tanh))
    assert len(feats) == 2 and feats[1] is out
    with pytest.raises(TypeError, match="nn.Sequential"):
        sequential_features(PatchDiscriminator(base=4), torch.rand(1, 3, 32, 32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="layer_types"):
        sequential_features(net, torch.rand(1, 3, 4, 4), layer_types=(int,))  # type: ignore[arg-type]
    # an in-place activation right after a collected one would corrupt the collected features
    bad = nn.Sequential(nn.Conv2d(3, 2, 1), nn.LeakyReLU(0.2), nn.LeakyReLU(0.2, inplace=True))
    with pytest.raises(RuntimeError, match="modified in place"):
        sequential_features(bad, torch.rand(1, 3, 4, 4))
