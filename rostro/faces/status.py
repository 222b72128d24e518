"""What became of an image on its way to a face: a typed status instead of compared strings."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

NO_FACE = "no face found"  # the reason written in the ``error`` column of predict's and embed's outputs


class FaceStatus(StrEnum):
    FOUND = "found"
    NO_FACE = "no_face"
    UNREADABLE = "unreadable"

    @classmethod
    def of(cls, error: str | None) -> FaceStatus:
        """The status of an output row from its ``error`` cell ('' or missing: a face was found)."""
        if not isinstance(error, str) or not error:
            return cls.FOUND
        return cls.NO_FACE if error == NO_FACE else cls.UNREADABLE


def status_counts(errors: Iterable[str | None]) -> dict[str, int]:
    """``images``, ``face_found``, ``no_face`` and ``unreadable`` counted from the ``error`` cells."""
    counts = {"images": 0, "face_found": 0, "no_face": 0, "unreadable": 0}
    names = {FaceStatus.FOUND: "face_found", FaceStatus.NO_FACE: "no_face", FaceStatus.UNREADABLE: "unreadable"}
    for error in errors:
        counts["images"] += 1
        counts[names[FaceStatus.of(error)]] += 1
    return counts
