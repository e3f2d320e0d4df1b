"""Cut the subject out of a photo: segmenters, the automatic trimap and the cut-out pipeline.

- :mod:`~mattepaint.segmentation.base`: the :class:`Segmenter` protocol (image (B, 3, H, W) ->
  soft mask (B, 1, H, W)), the registry of named segmenters and :func:`load_segmenter`
  (a name or a model file -> a Segmenter).
- :mod:`~mattepaint.segmentation.model`: mattepaint's own trimap-free matting networks as
  segmenters (:class:`ModelSegmenter`), among them the shipped default.
- :mod:`~mattepaint.segmentation.onnx`: standard cut-out models from ONNX files, one class per
  family (U²-Net as rembg publishes it, MODNet), picked from the graph.
- :mod:`~mattepaint.segmentation.gated`: :class:`GatedSegmenter`, a specialist segmenter used
  only where a general one agrees with it.
- :mod:`~mattepaint.segmentation.trimap`: :func:`auto_trimap`, soft mask -> trimap.
- :mod:`~mattepaint.segmentation.scribbles`: :func:`apply_scribbles`, user strokes that correct
  an automatic trimap.
- :mod:`~mattepaint.segmentation.cutout`: :func:`cutout`, the whole pipeline (segment ->
  automatic trimap -> trimap matting on the band -> foreground colour -> RGBA).
"""

from mattepaint.segmentation.base import (
    DEFAULT_SEGMENTER,
    MODEL_FILE_SUFFIXES,
    Segmenter,
    SegmenterSpec,
    check_segmenter_input,
    default_segmenter,
    load_segmenter,
    register_segmenter,
    resolve_segmenter,
    segmenter_names,
)
from mattepaint.segmentation.cutout import CutoutResult, cutout, refine_matter
from mattepaint.segmentation.gated import GatedSegmenter
from mattepaint.segmentation.model import (
    SHIPPED_SEGMENTER,
    ModelSegmenter,
    load_model_segmenter,
    shipped_segmenter,
)
from mattepaint.segmentation.onnx import (
    FAMILIES,
    MODNetSegmenter,
    OnnxSegmenter,
    U2NetSegmenter,
    detect_family,
    load_onnx_segmenter,
)
from mattepaint.segmentation.scribbles import apply_scribbles, scribble_radius
from mattepaint.segmentation.trimap import auto_trimap, band_radius

__all__ = [
    "DEFAULT_SEGMENTER",
    "FAMILIES",
    "MODEL_FILE_SUFFIXES",
    "SHIPPED_SEGMENTER",
    "CutoutResult",
    "GatedSegmenter",
    "MODNetSegmenter",
    "ModelSegmenter",
    "OnnxSegmenter",
    "Segmenter",
    "SegmenterSpec",
    "U2NetSegmenter",
    "apply_scribbles",
    "auto_trimap",
    "band_radius",
    "check_segmenter_input",
    "cutout",
    "default_segmenter",
    "detect_family",
    "load_model_segmenter",
    "load_onnx_segmenter",
    "load_segmenter",
    "refine_matter",
    "register_segmenter",
    "resolve_segmenter",
    "scribble_radius",
    "segmenter_names",
    "shipped_segmenter",
]
