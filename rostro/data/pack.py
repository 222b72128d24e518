"""A training pack: the rows of a multi-source table and their decoded inputs, in one portable folder.

Training on another machine (a GPU box) should not need the source images there: the pack holds
the table (labels, age, split, identity, source, path) and every row's input as WebP bytes, a few
hundred bytes for a 64-px crop, so ninety thousand faces travel in about 60 MB. Inputs are lossy at
``quality`` (WebP's own scale); training from the pack on any machine reads the same pixels.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from rostro.errors import RostroError
from rostro.files import atomic_path, atomic_write_text

PACK_VERSION = 1
_TABLE, _INPUTS, _META = "table.parquet", "inputs.npz", "pack.json"


def write_pack(folder: str | Path, table: pd.DataFrame, inputs: np.ndarray, meta: dict, *, quality: int = 90) -> Path:
    """Write ``table`` (one row per input) and ``inputs`` (N x S x S x 3 uint8) with ``meta`` (what
    made them: input layout, size, labels) to ``folder``; each file appears whole or not at all."""
    if len(table) != len(inputs):
        raise ValueError(f"write_pack: expected one input per table row, found {len(inputs)} for {len(table)} rows")
    if not 1 <= quality <= 100:
        raise ValueError(f"write_pack: quality is WebP's 1..100, found {quality}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def encode(img: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(img)).save(buf, "WEBP", quality=quality, method=4)
        return buf.getvalue()

    with ThreadPoolExecutor(4) as pool:
        blobs = list(pool.map(encode, inputs, chunksize=256))
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    with atomic_path(folder / _TABLE) as tmp:
        table.reset_index(drop=True).to_parquet(tmp, index=False)
    with atomic_path(folder / _INPUTS) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, data=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets)
    size = int(inputs.shape[1]) if len(inputs) else 0
    atomic_write_text(folder / _META, json.dumps({"version": PACK_VERSION, "rows": len(table), "size": size,
                                                  "quality": quality, **meta}, indent=1))  # fmt: skip
    return folder


def read_pack(folder: str | Path) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The table, the decoded inputs (N x S x S x 3 uint8) and the meta of a pack ``write_pack`` made."""
    folder = Path(folder)
    missing = [n for n in (_META, _TABLE, _INPUTS) if not (folder / n).is_file()]
    if missing:
        raise RostroError(f"{folder}: expected a training pack ({_META}, {_TABLE}, {_INPUTS}), missing {missing}; "
                          "write one with `rostro train-multitask --config C --pack-to DIR`")  # fmt: skip
    meta = json.loads((folder / _META).read_text())
    if meta.get("version") != PACK_VERSION:
        raise RostroError(f"{folder}: pack version {meta.get('version')}, this rostro reads {PACK_VERSION}")
    table = pd.read_parquet(folder / _TABLE)
    saved = np.load(folder / _INPUTS)
    data, offsets = saved["data"], saved["offsets"]
    if len(offsets) != len(table) + 1 or len(table) != meta["rows"]:
        raise RostroError(f"{folder}: {len(table)} table rows, {len(offsets) - 1} inputs and {meta['rows']} in "
                          f"{_META}; the pack is damaged: write it again")  # fmt: skip
    size = meta["size"]
    inputs = np.zeros((len(table), size, size, 3), np.uint8)

    def decode(i: int) -> None:
        with Image.open(io.BytesIO(data[offsets[i] : offsets[i + 1]].tobytes())) as im:
            inputs[i] = np.asarray(im.convert("RGB"))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(decode, range(len(table)), chunksize=512))
    return table, inputs, meta
