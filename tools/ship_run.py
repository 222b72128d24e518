"""Copy a trained run into the package as its shipped model.

    python tools/ship_run.py runs/model_v2 rostro/weights/face_attr_v2

The files a run is loaded from are copied and re-signed (``manifest.json``); the validation
outputs and checkpoints of the last epoch stay behind. Measure the shipped copy again.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rostro.runs import WEIGHTS_FILE, write_manifest

KEEP = ("run.json", "config.yaml", "history.csv", "calibration.json", "calibration.csv", "fusion.json")


def ship(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    shutil.copy2(run / WEIGHTS_FILE, dest / WEIGHTS_FILE)
    write_manifest(dest)
    for int8 in run.glob("model-*.int8.onnx"):  # named by the manifest, which re-signing leaves the same
        shutil.copy2(int8, dest / int8.name)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(ship(Path(sys.argv[1]), Path(sys.argv[2])))
