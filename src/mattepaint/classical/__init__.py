"""Classical (non-learned) matting and inpainting methods, behind the same interface as the models.

The methods by name are the tables :data:`INPAINTERS` and :data:`MATTERS`, which
:mod:`mattepaint.methods` reads (this package imports only :mod:`mattepaint.interface`):

- inpainting: ``telea``, ``ns`` (OpenCV, :mod:`.opencv_inpaint`), ``biharmonic`` (scikit-image,
  :mod:`.biharmonic`), ``patchmatch`` (exemplar patches, numba, :mod:`.patchmatch`);
- matting: ``closed_form``, ``knn``, ``lkm``, ``rw``, ``lbdm``, ``sm`` (pymatting, trimap-based,
  :mod:`.pymatting_methods`), ``cf_knn`` (closed-form blended with KNN matting solved on the
  unknown region, :mod:`.cf_knn`), ``cf_knn_sm`` (that blend averaged with shared matting, the
  default with a trimap), ``background_difference`` (needs a clean background plate,
  :mod:`.background_difference`).

Each module also exposes the plain numpy function that does the work on one image
(:func:`inpaint_telea`, :func:`alpha_closed_form`, ...). pymatting and scikit-image are imported
only when a method that needs them runs.
"""

from collections.abc import Callable

from mattepaint.classical.background_difference import (
    BackgroundDifferenceMatter,
    matte_background_difference,
)
from mattepaint.classical.biharmonic import BiharmonicInpainter, inpaint_biharmonic
from mattepaint.classical.cf_knn import (
    CFKNNMatter,
    CFKNNSMMatter,
    alpha_cf_knn,
    alpha_cf_knn_sm,
    alpha_knn_local,
)
from mattepaint.classical.opencv_inpaint import (
    NSInpainter,
    TeleaInpainter,
    inpaint_ns,
    inpaint_telea,
)
from mattepaint.classical.patchmatch import PatchMatchInpainter, inpaint_patchmatch
from mattepaint.classical.pymatting_methods import (
    ClosedFormMatter,
    KNNMatter,
    LBDMMatter,
    LKMMatter,
    RandomWalkMatter,
    SharedMatter,
    alpha_closed_form,
    alpha_knn,
    alpha_lbdm,
    alpha_lkm,
    alpha_rw,
    alpha_sm,
)
from mattepaint.interface import Inpainter, Matter

#: The classical inpainting methods by name: a factory taking the method's keyword options.
INPAINTERS: dict[str, Callable[..., Inpainter]] = {
    "telea": TeleaInpainter,
    "ns": NSInpainter,
    "biharmonic": BiharmonicInpainter,
    "patchmatch": PatchMatchInpainter,
}

#: The classical matting methods by name: a factory taking the method's keyword options.
MATTERS: dict[str, Callable[..., Matter]] = {
    "closed_form": ClosedFormMatter,
    "knn": KNNMatter,
    "cf_knn": CFKNNMatter,
    "cf_knn_sm": CFKNNSMMatter,
    "lkm": LKMMatter,
    "rw": RandomWalkMatter,
    "lbdm": LBDMMatter,
    "sm": SharedMatter,
    "background_difference": BackgroundDifferenceMatter,
}

__all__ = [
    "INPAINTERS",
    "MATTERS",
    "BackgroundDifferenceMatter",
    "BiharmonicInpainter",
    "CFKNNMatter",
    "CFKNNSMMatter",
    "ClosedFormMatter",
    "KNNMatter",
    "LBDMMatter",
    "LKMMatter",
    "NSInpainter",
    "PatchMatchInpainter",
    "RandomWalkMatter",
    "SharedMatter",
    "TeleaInpainter",
    "alpha_cf_knn",
    "alpha_cf_knn_sm",
    "alpha_closed_form",
    "alpha_knn",
    "alpha_knn_local",
    "alpha_lbdm",
    "alpha_lkm",
    "alpha_rw",
    "alpha_sm",
    "inpaint_biharmonic",
    "inpaint_ns",
    "inpaint_patchmatch",
    "inpaint_telea",
    "matte_background_difference",
]
