"""Loss functions: pure functions on tensors returning 0-dim tensors.

reconstruction.py: l1, mse (optionally weighted), masked_l1, hole_l1, valid_l1, hole_mse,
    total_variation (optionally on the dilated hole, Liu et al. 2018), spatial_discount and
    discounted_l1 (Yu et al. 2018, DeepFill v1).
adversarial.py: d_loss / g_loss for "nsgan", "hinge", "wgan_gp" and gradient_penalty
    (Gulrajani et al. 2017; masked as in DeepFill v1).
perceptual.py: VGGFeatures (frozen VGG16 pool1-pool3 from a local weights file), perceptual_loss,
    gram_matrix, style_loss, liu_perceptual (Liu et al. 2018), AlexNetPerceptual (a cheap
    normalised AlexNet distance, Zhang et al. 2018), EfficientNetPerceptual (the same distance on
    EfficientNet-Lite0 features), feature_matching_loss.

The training task combines them into a dict of named terms plus "total".
"""

from mattepaint.losses.adversarial import GAN_KINDS, d_loss, g_loss, gradient_penalty
from mattepaint.losses.perceptual import (
    LIU_LAYERS,
    LIU_WEIGHTS,
    AlexNetPerceptual,
    EfficientNetPerceptual,
    VGGFeatures,
    feature_matching_loss,
    gram_matrix,
    liu_perceptual,
    perceptual_loss,
    style_loss,
)
from mattepaint.losses.reconstruction import (
    discounted_l1,
    hole_l1,
    hole_mse,
    l1,
    masked_l1,
    mse,
    spatial_discount,
    total_variation,
    valid_l1,
)

__all__ = [
    "GAN_KINDS",
    "LIU_LAYERS",
    "LIU_WEIGHTS",
    "AlexNetPerceptual",
    "EfficientNetPerceptual",
    "VGGFeatures",
    "d_loss",
    "discounted_l1",
    "feature_matching_loss",
    "g_loss",
    "gradient_penalty",
    "gram_matrix",
    "hole_l1",
    "hole_mse",
    "l1",
    "liu_perceptual",
    "masked_l1",
    "mse",
    "perceptual_loss",
    "spatial_discount",
    "style_loss",
    "total_variation",
    "valid_l1",
]
