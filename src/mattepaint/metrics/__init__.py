"""Evaluation metrics: pure functions for matting (``matting``) and inpainting (``inpainting``),
and the learned perceptual metric LPIPS (``lpips``)."""
