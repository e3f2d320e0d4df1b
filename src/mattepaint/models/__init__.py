"""Neural network building blocks and architectures (backbones, matting and inpainting models)."""
