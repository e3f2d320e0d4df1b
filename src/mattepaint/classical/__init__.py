"""Classical (non-learned) matting and inpainting methods, behind the same interface as the models.

Importing this package registers every method with :mod:`mattepaint.methods`:

- inpainting: ``telea``, ``ns`` (OpenCV, :mod:`.opencv_inpaint`), ``biharmonic`` (scikit-image,
  :mod:`.biharmonic`);
- matting: ``closed_form``, ``knn``, ``lkm`` (pymatting, trimap-based,
  :mod:`.pymatting_methods`), ``background_difference`` (needs a clean background plate,
  :mod:`.background_difference`).

Each module also exposes the plain numpy function that does the work on one image
(:func:`inpaint_telea`, :func:`alpha_closed_form`, ...). pymatting and scikit-image are imported
only when a method that needs them runs.
"""

from mattepaint.classical.background_difference import (
    BackgroundDifferenceMatter,
    matte_background_difference,
)
from mattepaint.classical.biharmonic import BiharmonicInpainter, inpaint_biharmonic
from mattepaint.classical.opencv_inpaint import (
    NSInpainter,
    TeleaInpainter,
    inpaint_ns,
    inpaint_telea,
)
from mattepaint.classical.pymatting_methods import (
    ClosedFormMatter,
    KNNMatter,
    LKMMatter,
    alpha_closed_form,
    alpha_knn,
    alpha_lkm,
    estimate_foreground,
)

__all__ = [
    "BackgroundDifferenceMatter",
    "BiharmonicInpainter",
    "ClosedFormMatter",
    "KNNMatter",
    "LKMMatter",
    "NSInpainter",
    "TeleaInpainter",
    "alpha_closed_form",
    "alpha_knn",
    "alpha_lkm",
    "estimate_foreground",
    "inpaint_biharmonic",
    "inpaint_ns",
    "inpaint_telea",
    "matte_background_difference",
]
