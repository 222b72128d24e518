"""Naming a track from a face-search gallery (``rostro index``): its mean face-network descriptor
against the gallery's faces, at the gallery's threshold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rostro.errors import RostroError


def name_track(gallery, embedding: np.ndarray) -> tuple[str, float]:
    """(name, cosine similarity) of a track's mean descriptor: the best match's name, or '' when it is
    below the gallery's threshold."""
    ((name, similarity, _),) = gallery.identify(np.asarray(embedding, np.float32)[None], k=1)
    return name, float(similarity)


def open_namer(uri: str) -> tuple[Callable[[np.ndarray], tuple[str, float]], tuple[int, bool]]:
    """The naming function for the gallery at ``uri`` and the descriptor recipe its faces were made
    with (jitter, flip), so a track's faces are described the same way."""
    try:
        from rostro.search import open_gallery
        from rostro.search.gallery import photo_options, photo_stamp
    except ImportError as exc:
        raise RostroError(f"--gallery needs rostro's face search (rostro.search), which cannot be loaded here: "
                          f"{exc}") from None  # fmt: skip
    gallery = open_gallery(uri)
    options = photo_options(gallery.stamp)
    gallery.check_stamp(photo_stamp(**options), "a video's faces")
    return (lambda embedding: name_track(gallery, embedding)), (options["jitter"], options["flip"])
