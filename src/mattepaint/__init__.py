"""mattepaint: image matting and inpainting in PyTorch.

Conventions used everywhere in the package:

- numpy images are ``(H, W, C)`` float32 in [0, 1]; single-channel maps (alpha, mask, trimap)
  are ``(H, W)``;
- tensors are ``(B, C, H, W)`` float in [0, 1]; alpha, mask and trimap are ``(B, 1, H, W)``;
- a mask marks holes with 1 / True; a trimap holds 0 (background), 0.5 (unknown), 1
  (foreground), stored on disk as 0 / 128 / 255.
"""

__version__ = "0.1.0"
