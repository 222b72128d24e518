"""Distillation data for the shipped model: LFW's faces, aligned to CelebA's crop and scored by a teacher.

LFW's 7,701 pair images carry no attribute labels; a trained, fused model (CNN plus heads on
dlib's embedding) scores each face, and ``rostro train --soft-labels`` lets a new CNN learn
from those scores as well as from CelebA's labels. The shipped model's teacher was the model
shipped before it (git commit c42380d, ``rostro/weights/celeba_attr_net``).

Run: ``python -m benchmarks.teacher --teacher RUN --out DIR [--shared ../shared/data]``.
Writes ``DIR/crops/*.jpg`` (89 x 109, the shared crops' layout) and ``DIR/teacher.parquet``
(``path`` plus one probability per attribute). About 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

CROP = (89, 109)  # half of CelebA's 178 x 218, as in ../shared/data/celeba-aligned


def score(args: tuple[str, list[str], str]) -> list[dict]:
    """Detect (the face nearest the centre), align, save the crop, and score it with the teacher."""
    import torch

    from rostro.data.images import load_image
    from rostro.data.transforms import resize_square
    from rostro.inference.predict import AttributePredictor

    torch.set_num_threads(1)
    teacher, paths, out = args
    pred = AttributePredictor(teacher)
    rows = []
    for path in paths:
        faces, crops, vecs = pred.align_faces(load_image(path), pick="centre")
        if not faces:
            continue
        crop = np.asarray(Image.fromarray(crops[0]).resize(CROP, Image.BILINEAR))
        target = Path(out) / f"{Path(path).stem}.jpg"
        Image.fromarray(crop).save(target, quality=90)
        vec = np.stack(vecs[:1]) if vecs else None  # a fused teacher mixes in the embedding head
        probs = pred.predict_crops(resize_square(crop, pred.info.input_size)[None], vec)[0]
        rows.append({"path": str(target), **dict(zip(pred.labels, probs.tolist(), strict=True))})
    return rows


def main() -> None:
    from rostro.workers import process_pool

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="run folder of the teacher (a fused model)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths = sorted(str(p) for p in (args.shared / "lfw" / "lfw").glob("*/*.jpg"))
    crops = args.out / "crops"
    crops.mkdir(parents=True, exist_ok=True)
    jobs = [(args.teacher, paths[i :: args.workers * 8], str(crops)) for i in range(args.workers * 8)]
    with process_pool(args.workers) as pool:
        rows = [r for part in pool.map(score, jobs) for r in part]
    table = pd.DataFrame(rows).sort_values("path", ignore_index=True)
    table.to_parquet(args.out / "teacher.parquet")
    print(f"{len(table):,} of {len(paths):,} LFW images scored -> {args.out / 'teacher.parquet'}")


if __name__ == "__main__":
    main()
