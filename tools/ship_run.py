"""Copy a trained run into the package as its shipped model, weights in half precision.

    python tools/ship_run.py runs/model_v2 rostro/weights/face_attr_v2

Half precision halves the file in git (the face network's 7.4 M parameters: 30 MB -> 15 MB);
``rostro.runs.load_run`` casts the weights back to float32. The copied files are re-signed
(``manifest.json``). Measure the shipped copy again: the benchmark reads it, not the run.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from rostro.runs import WEIGHTS_FILE, load_checkpoint, save_checkpoint, write_manifest

KEEP = ("run.json", "config.yaml", "history.csv", "calibration.json", "calibration.csv", "fusion.json")


def ship(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    state = load_checkpoint(run / WEIGHTS_FILE)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_checkpoint(half, dest / WEIGHTS_FILE)
    write_manifest(dest)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    print(ship(Path(sys.argv[1]), Path(sys.argv[2])))
