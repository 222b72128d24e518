"""Write the training-split paths of a train-multitask config's aligned-crop sources, one a line: the crops
``rostro export RUN --int8 --calibrate LIST`` measures activation ranges on (never a validation or test face).

Run: ``python tools/calibration_list.py configs/model_fast.yaml runs/fast_calibration.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rostro.config import load_config
from rostro.training.multitask import MultiTaskConfig, multitask_table


def main(config: str, out: str) -> None:
    cfg = load_config(MultiTaskConfig, config)
    table, _ = multitask_table(cfg)
    aligned = [i for i, s in enumerate(cfg.parsed) if s.chips == "aligned"]
    rows = table[(table["split"] == "train") & table["source"].isin(aligned)]
    Path(out).write_text("\n".join(rows["path"].astype(str)) + "\n")
    print(f"{len(rows):,} training crops of {len(aligned)} aligned source(s) -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
