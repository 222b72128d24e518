"""Copy a trained run into the package as its shipped model.

    python tools/ship_run.py runs/model_v2 rostro/weights/face_attr_v2

The files a run is loaded from are copied and re-signed (``manifest.json``), a fusion partner's path
re-aimed from the new folder (``../face_attr_v3`` for a run fused with the shipped v3); the validation
outputs and checkpoints of the last epoch stay behind. Measure the shipped copy again.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from rostro.models.fusion import Fusion
from rostro.runs import WEIGHTS_FILE, write_manifest

KEEP = ("run.json", "config.yaml", "history.csv", "calibration.json", "calibration.csv", "fusion.json")


def ship(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    fusion = Fusion.load(run)
    if fusion is not None and fusion.partner is not None:  # the partner path is relative: re-aim it from dest
        partner = fusion.partner_run(run)
        if partner.parent != dest.resolve().parent:
            sys.exit(f"{run}'s fusion partner {partner} is not shipped beside {dest}: ship it first")
        fusion.partner = os.path.relpath(partner, dest.resolve())
        fusion.save(dest)
    shutil.copy2(run / WEIGHTS_FILE, dest / WEIGHTS_FILE)
    write_manifest(dest)
    for int8 in run.glob("model-*.int8.onnx"):  # named by the manifest, which re-signing leaves the same
        shutil.copy2(int8, dest / int8.name)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(ship(Path(sys.argv[1]), Path(sys.argv[2])))
