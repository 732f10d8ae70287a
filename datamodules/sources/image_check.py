"""What to do with image files that cannot be read: the ``bad_images`` policy of image-file sources.

Scraped or copied image folders often hold a few truncated or mislabelled files. With
``"error"`` (the default) a bad file raises a ``DatasetError`` naming it when it is read, so
nothing is dropped silently. With ``"skip"`` the source checks every file once when it is
indexed (``PIL.Image.verify``: the header and the chunk checksums, without decoding the
pixels, so it costs a file read), drops the bad ones, logs one warning with their count and
the first few, and lists them (``"path: reason"``) for the run's results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, TypeVar

from PIL import Image

log = logging.getLogger(__name__)

BadImagePolicy = Literal["error", "skip"]
# The errors PIL raises on a file it cannot parse (truncated, not an image, a decompression bomb).
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
T = TypeVar("T")


def image_problem(path: str) -> str | None:
    """Why the image file at ``path`` cannot be read, or None when it verifies."""
    try:
        with Image.open(path) as im:
            im.verify()
    except IMAGE_ERRORS as e:
        return f"{type(e).__name__}: {e}"
    return None


def bad_image_files(paths: Iterable[str], where: str) -> dict[str, str]:
    """The files of ``paths`` that do not verify, each with its reason; logged once as a warning.

    Args:
        paths: image files to check.
        where: the folder or split they belong to, named in the warning.

    Returns:
        ``{path: reason}`` in the order of ``paths``; empty when every file verifies.
    """
    bad = {p: problem for p in paths if (problem := image_problem(p)) is not None}
    if bad:
        first = "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:3])
        log.warning("%s: skipping %d unreadable image file(s) (bad_images='skip'): %s%s",
                    where, len(bad), first, " ..." if len(bad) > 3 else "")
    return bad


def keep_readable(items: list[T], path_of: Callable[[T], Path | str], policy: BadImagePolicy,
                  where: str) -> tuple[list[T], list[str]]:
    """``items`` whose image file verifies (all of them with ``policy="error"``) and the skipped ``"path: reason"``.

    The one ``bad_images`` step of the sources that index samples by a list (COCO images, VOC
    ids, segmentation pairs): ``path_of`` gives an item's image file.
    """
    if policy == "error":
        return items, []
    bad = bad_image_files((str(path_of(x)) for x in items), where)
    return [x for x in items if str(path_of(x)) not in bad], [f"{p}: {r}" for p, r in bad.items()]
