"""Hole-mask generators, mask folders, input transforms and fixed mask sets.

Every generator has one signature, ``fn(shape: tuple[int, int], rng: np.random.Generator,
**params) -> np.ndarray`` of shape (H, W), dtype bool, True = hole; look them up by name in
:data:`GENERATORS` or call :func:`generate_mask`:

====================  =================================================================
name                  what (file)
====================  =================================================================
``rectangles``        random rectangles up to a coverage target (rectangles.py, seed 000)
``center_square``     centred square, default half the side (squares.py)
``random_square``     jittered square at a random position, seed 002 "hole" (squares.py)
``strokes``           DeepFill v2 free-form brush strokes (strokes.py)
``lama_thin``         LaMa narrow strokes (lama.py)
``lama_medium``       LaMa medium strokes or small boxes (lama.py)
``lama_thick``        LaMa wide strokes or large boxes (lama.py)
``objects``           object silhouettes (RGBA cut-outs' alpha or procedural shapes), dilated
                      like a user's brush, optionally mixed with LaMa masks (objects.py)
``folder``            a random file of a mask folder, e.g. NVIDIA irregular (folder.py)
``mix``               one of several generators, picked at random by weight (registry.py)
====================  =================================================================

Also: :class:`MaskFolder` and the hole-ratio buckets (buckets.py), the seed-002 input transforms
``hole`` / ``mosaic`` / ``hole_ns`` (transforms.py), and :func:`write_mask_set` /
:func:`read_manifest` (maskset.py).
"""

from mattepaint.masks.buckets import HOLE_RATIO_BUCKETS, bucket_label, hole_ratio, hole_ratio_bucket
from mattepaint.masks.folder import MaskFolder, folder_mask, resize_mask
from mattepaint.masks.lama import (
    LAMA_PRESETS,
    LamaConfig,
    lama_mask,
    lama_medium,
    lama_thick,
    lama_thin,
)
from mattepaint.masks.maskset import (
    DEFAULT_MASKSET_GENERATORS,
    MANIFEST_COLUMNS,
    mask_rng,
    read_manifest,
    write_mask_set,
)
from mattepaint.masks.objects import objects
from mattepaint.masks.rectangles import random_rectangle_boxes, rectangle_size_limits, rectangles
from mattepaint.masks.registry import (
    GENERATORS,
    generate_mask,
    generator_params,
    get_generator,
    mix,
)
from mattepaint.masks.squares import center_square, random_square
from mattepaint.masks.strokes import strokes
from mattepaint.masks.transforms import INPUT_TRANSFORMS, hole, hole_ns, mosaic, mosaic_image

__all__ = [
    "DEFAULT_MASKSET_GENERATORS",
    "GENERATORS",
    "HOLE_RATIO_BUCKETS",
    "INPUT_TRANSFORMS",
    "LAMA_PRESETS",
    "MANIFEST_COLUMNS",
    "LamaConfig",
    "MaskFolder",
    "bucket_label",
    "center_square",
    "folder_mask",
    "generate_mask",
    "generator_params",
    "get_generator",
    "hole",
    "hole_ns",
    "hole_ratio",
    "hole_ratio_bucket",
    "lama_mask",
    "lama_medium",
    "lama_thick",
    "lama_thin",
    "mask_rng",
    "mix",
    "mosaic",
    "mosaic_image",
    "objects",
    "random_rectangle_boxes",
    "random_square",
    "read_manifest",
    "rectangle_size_limits",
    "rectangles",
    "resize_mask",
    "strokes",
    "write_mask_set",
]
