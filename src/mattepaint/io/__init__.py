"""Load and save images, alpha mattes, masks and trimaps, with validation.

Everything read from disk comes back as float32 in [0, 1] (masks as bool), whatever the file
held: 8-bit values are divided by 255, 16-bit values by 65535. Colour images are ``(H, W, 3)``,
single-channel maps ``(H, W)``. On disk a mask is white (255) where there is a hole, and a
trimap is 0 (background) / 128 (unknown) / 255 (foreground).

Reading goes through Pillow, which handles palette, grayscale, RGBA and EXIF orientation. Pillow
silently reduces 16-bit RGB(A) PNG and TIFF files to 8 bits, so those are decoded with OpenCV
(PNG) or tifffile (TIFF) instead, and the EXIF / TIFF orientation is applied by hand.

Reading checks the whole file, not just its header: a truncated file, a PNG chunk whose CRC
checksum fails (``Image.verify``) and any decoder error raise :class:`~mattepaint.errors.InputError`
naming the file (Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set). Images larger than
the pixel limit are refused from their header, before any pixel is decoded: the limit is
``max_pixels=`` of each loader, by default :func:`max_pixels_limit` (the environment variable
``MATTEPAINT_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS` = 4096 x 4096). The command line, the
batch runner and the server all read images through these loaders, so one limit holds for all.

Writing is atomic: the encoder writes a temporary file in the target folder, which is renamed
over the target only once it is complete (:func:`atomic_path`). Existing files are never
replaced unless ``overwrite=True``; :func:`check_image_output` checks an output name (suffix,
alpha support, folder) before any work is done, and :class:`StagedOutputs` writes many outputs
all or nothing (the batch commands: nothing appears unless every input went through).

Modules: :mod:`~mattepaint.io.read` (loaders, pixel limit, folder listings),
:mod:`~mattepaint.io.write` (atomic savers, output checks, :class:`StagedOutputs`),
:mod:`~mattepaint.io.tensors` (numpy <-> torch). Import the names from ``mattepaint.io``.
"""

from mattepaint.io._formats import IMAGE_SUFFIXES, PathLike, SizeLike, as_path, short_listing
from mattepaint.io.read import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    check_pixel_count,
    check_same_size,
    images_by_stem,
    list_images,
    load_alpha,
    load_image,
    load_mask,
    load_rgba,
    load_trimap,
    match_by_stem,
    max_pixels_limit,
    read_image_size,
)
from mattepaint.io.tensors import to_numpy, to_tensor
from mattepaint.io.write import (
    StagedOutputs,
    atomic_path,
    check_image_output,
    save_image,
    save_mask,
    save_trimap,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS_ENV",
    "PathLike",
    "SizeLike",
    "StagedOutputs",
    "as_path",
    "atomic_path",
    "check_image_output",
    "check_pixel_count",
    "check_same_size",
    "images_by_stem",
    "list_images",
    "load_alpha",
    "load_image",
    "load_mask",
    "load_rgba",
    "load_trimap",
    "match_by_stem",
    "max_pixels_limit",
    "read_image_size",
    "save_image",
    "save_mask",
    "save_trimap",
    "short_listing",
    "to_numpy",
    "to_tensor",
]
