"""What every command shares: the result protocol, thread set-up and reading an embeddings file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from rostro.errors import RostroError
from rostro.faces.status import status_counts

if TYPE_CHECKING:  # loaded where used: a command such as video starts without them
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)


class CommandResult(Protocol):
    """A command's plain values, plus the lines a person reads (what the CLI prints)."""

    def lines(self) -> list[str]: ...


def set_threads(n: int | None) -> None:
    """All cores by default, shared among the processes torchrun starts on this machine."""
    import torch

    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(n or max(1, (os.cpu_count() or 1) // per_node))


def found_line(errors: Iterable[str | None]) -> str:
    """'N images: face found in F, no face in M, unreadable U.' from an output's ``error`` column."""
    c = status_counts(errors)
    return (f"{c['images']:,} images: face found in {c['face_found']:,}, no face in {c['no_face']:,}, "
            f"unreadable {c['unreadable']:,}.")  # fmt: skip


def read_embeddings(path: str, needed: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of an embeddings file (``rostro embed``) that have a vector, and the vectors.

    Columns in ``needed`` must exist; rows without a face are left out with a warning.
    """
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(path)
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise RostroError(f"{path}: no column(s) {absent}; columns are {list(frame.columns)}")
    n = len(frame)
    frame = frame[frame["face_found"]].reset_index(drop=True)
    if frame.empty:
        raise RostroError(f"{path}: no image with a face embedding")
    if len(frame) < n:
        log.warning("%s: %d of %d images have no embedding (no face found or unreadable) and are left out",
                    path, n - len(frame), n)  # fmt: skip
    return frame, np.asarray(frame["embedding"].tolist(), np.float32)
