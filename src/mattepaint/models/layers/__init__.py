"""Reusable network parts shared by the architectures (one part a file)."""

from mattepaint.models.layers.features import sequential_features
from mattepaint.models.layers.unet import ConvBlock, UNet

__all__ = ["ConvBlock", "UNet", "sequential_features"]
