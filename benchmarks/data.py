"""Dataset figures on the shared CelebA subset: reading, EDA against full CelebA, cache build time.

Run: ``python -m benchmarks.data [--shared ../shared/data]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rostro.data import read_celeba
from rostro.data.cache import build_cache
from rostro.data.sampling import ensure_splits
from rostro.data.stats import describe_dataset

REFERENCE = {  # full CelebA, as the seed reports measured it
    "Male prevalence": 0.42,
    "Heavy_Makeup ~ Wearing_Lipstick": 0.80,
    "High_Cheekbones ~ Smiling": 0.68,
    "No_Beard ~ Goatee": -0.54,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    root = args.shared / "celeba-aligned"
    rows = []
    t = time.perf_counter()
    ds = read_celeba(root)
    rows.append(("read list files (8,003 images, 40 attributes)", f"{time.perf_counter() - t:.2f} s", ""))
    ds = ensure_splits(ds, stratify="Male", seed=0)
    s = describe_dataset(ds, target="Male")
    c = s.correlation
    measured = {
        "Male prevalence": s.class_balance["positive_rate"],
        "Heavy_Makeup ~ Wearing_Lipstick": c.loc["Heavy_Makeup", "Wearing_Lipstick"],
        "High_Cheekbones ~ Smiling": c.loc["High_Cheekbones", "Smiling"],
        "No_Beard ~ Goatee": c.loc["No_Beard", "Goatee"],
    }
    rows += [(f"{k} (train split)", f"{v:+.3f}", f"{REFERENCE[k]:+.2f}") for k, v in measured.items()]
    rows.append(("split sizes (identity-disjoint, seed 0)", str(s.split_sizes), ""))
    paths = ds.frame["path"].tolist()
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cold = build_cache(paths, args.size, cache_dir=tmp, workers=workers, progress=False)
            warm = build_cache(paths, args.size, cache_dir=tmp, progress=False)
            rows.append(
                (f"cache build {args.size}px, {workers} worker(s)", f"{cold.seconds:.2f} s "
                 f"({len(paths) / cold.seconds:,.0f} img/s)", "")
            )  # fmt: skip
    rows.append((f"cache hit {args.size}px", f"{warm.seconds * 1000:.0f} ms", ""))
    print("| figure | measured | full CelebA |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
