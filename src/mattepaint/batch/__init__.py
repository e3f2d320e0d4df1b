"""Run an inpainting or matting method over one file or a whole folder.

Library functions that the ``mattepaint`` CLI wraps one to one. They work through the shared
method interface (:mod:`mattepaint.methods`), so a classical method and a trained model are run
the same way, and through :mod:`mattepaint.io`, so an existing output is never overwritten unless
``overwrite=True``.

All or nothing. Before any work, every name is checked: missing files, images without a matching
mask / trimap / background (matched by file stem), sizes and pixel counts that do not agree or
are too large (read from the file headers), every output name (its suffix suits what is written
there, e.g. an RGBA cut-out needs .png / .tif / .webp; it is not a folder and lies in no file;
it does not exist yet). Then every input is decoded in full and run; all outputs are written to
temporary files beside their targets (:class:`mattepaint.io.StagedOutputs`) and renamed into
place only when every input has gone through. So a problem found only in the pixels (a truncated
JPEG whose header is intact, a trimap with bad values, a mask that covers the whole image) or a
failure of the method, even in the last file, leaves no output written and existing files
unchanged, and the same command works once the file is fixed.

A user mistake raises :class:`~mattepaint.errors.InputError` (or its kin
:class:`~mattepaint.errors.InputNotFoundError`, :class:`~mattepaint.errors.OutputExistsError`)
with one sentence that names the file and what to do.

Output names:

- inpainting: ``OUT/<image stem>.png``;
- matting: ``OUT/<stem>.png`` (alpha, 8-bit gray), ``OUT/<stem>_fg.png`` (foreground colour, RGB),
  ``OUT/<stem>_cutout.png`` (image colour with alpha, RGBA).
- cut-out (:func:`cutout_folder`): ``OUT/<stem>.png`` (RGBA; gray with ``only_mask``, RGB on a
  ``bg_color`` / ``background``), ``OUT/<stem>_trimap.png`` (the automatic trimap, with
  ``save_trimap``).

Example:
    >>> from mattepaint.batch import inpaint_folder
    >>> inpaint_folder("photos", "holes", "filled", method="telea")  # doctest: +SKIP

Modules: :mod:`~mattepaint.batch.inpainting`, :mod:`~mattepaint.batch.matting`,
:mod:`~mattepaint.batch.cutout`, and :mod:`~mattepaint.batch.common` (the shared checks).
"""

from mattepaint.batch.cutout import cutout_file, cutout_folder
from mattepaint.batch.inpainting import inpaint_file, inpaint_folder
from mattepaint.batch.matting import matte_file, matte_folder

__all__ = [
    "cutout_file",
    "cutout_folder",
    "inpaint_file",
    "inpaint_folder",
    "matte_file",
    "matte_folder",
]
