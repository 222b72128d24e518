"""Attribute figures of a trained run (the shipped model by default) on the shared CelebA data.

Run: ``python -m benchmarks.attributes [--model RUN] [--shared ../shared/data]``.
Prints Markdown tables: per-attribute accuracy on held-out identities (aligned crops),
Male accuracy and face-found rate on the in-the-wild photos, and speeds on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rostro.commands import EvaluateConfig, evaluate
from rostro.data import read_celeba
from rostro.data.cache import build_cache
from rostro.inference.predict import AttributePredictor, default_run, results_frame
from rostro.models.fusion import route_counts, route_name
from rostro.training.data import run_dataset


def _speed(pred: AttributePredictor, crops: np.ndarray, repeat: int = 3) -> float:
    pred.predict_crops(crops[:64])
    t = time.perf_counter()
    for _ in range(repeat):
        pred.predict_crops(crops)
    return repeat * len(crops) / (time.perf_counter() - t)


def _train_speed(crops: np.ndarray, steps: int = 30, batch: int = 64) -> float:
    """Training images/s of attr_net at 64 px: augmentation, forward, backward, step."""
    from rostro.data.transforms import Augment, to_float_tensor
    from rostro.models import create_model

    model = create_model("attr_net", num_outputs=40, input_size=crops.shape[1]).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    aug, gen = Augment(), torch.Generator().manual_seed(0)
    y = torch.zeros(batch, 40)
    t = 0.0
    for step in range(steps + 3):
        start = time.perf_counter()
        rows = np.sort(np.random.default_rng(step).choice(len(crops), batch, replace=False))
        x = aug(to_float_tensor(crops[rows]), gen).contiguous(memory_format=torch.channels_last)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 3:  # the first steps warm up allocators
            t += time.perf_counter() - start
    return steps * batch / t


def _aligned_section(run: Path, aligned: Path, embeddings: Path | None, figures: dict):
    emb = str(embeddings) if embeddings else None
    cfg = EvaluateConfig(run=str(run), split="test", data=str(aligned), progress=False, embeddings=emb)
    result = evaluate(cfg).metrics
    figures["aligned_test"] = {"n": result.n, **result.summary}
    print(f"## Held-out identities, aligned crops ({result.n:,} test images)\n")
    print("| attribute | accuracy | majority | balanced accuracy |\n|---|---|---|---|")
    for name, row in result.table.sort_index().iterrows():
        print(f"| {name} | {row.accuracy:.4f} | {row.majority_baseline:.4f} | {row.balanced_accuracy:.4f} |")
    s = result.summary
    print(f"| **mean** | **{s['mean_accuracy']:.4f}** | {s['mean_majority_baseline']:.4f} | "
          f"{s['mean_balanced_accuracy']:.4f} |\n")  # fmt: skip
    return result


def male_on_photos(
    pred: AttributePredictor, wild: pd.DataFrame, out: pd.DataFrame, aligned: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face found, Male right with a miss counted wrong, identity not in the training split), per photo."""
    found = out["face_found"].to_numpy(bool)
    thr = pred.thresholds[pred.labels.index("Male")]
    correct = found & ((out["Male"].fillna(0).to_numpy() >= thr) == (wild["Male"].to_numpy() == 1))
    train_ids = set(run_dataset(pred.info, data=str(aligned))[0].split("train").frame.get("identity", []))
    return found, correct, ~wild["identity"].isin(train_ids).to_numpy()


def _wild_section(pred: AttributePredictor, wild_root: Path, aligned: Path, limit: int | None, figures: dict) -> None:
    wild = read_celeba(wild_root)
    frame = wild.frame if limit is None else wild.frame.head(limit)
    t = time.perf_counter()
    results = pred.predict_paths(frame["path"].tolist(), progress=False)
    photo_seconds = time.perf_counter() - t
    found, correct, unseen = male_on_photos(pred, frame, results_frame(results, pred.labels), aligned)
    figures["wild"] = {
        "photos": len(frame),
        "face_found_rate": float(found.mean()),
        "male_accuracy_all": float(correct.mean()),
        "male_accuracy_unseen_identities": float(correct[unseen].mean()),
        "photos_unseen_identities": int(unseen.sum()),
        "male_accuracy_when_found": float(correct[found].mean()),
        "photos_per_second": len(frame) / photo_seconds,
    }


def _print_wild(w: dict) -> None:
    print(f"## In-the-wild photos ({w['photos']:,}; a miss counts as wrong)\n")
    print("| figure | value |\n|---|---|")
    print(f"| face found | {w['face_found_rate']:.4f} |")
    print(f"| Male accuracy, all photos | {w['male_accuracy_all']:.4f} |")
    print(f"| Male accuracy, identities unseen in training ({w['photos_unseen_identities']:,}) | "
          f"{w['male_accuracy_unseen_identities']:.4f} |")  # fmt: skip
    print(f"| Male accuracy where a face was found | {w['male_accuracy_when_found']:.4f} |")
    print(f"| photos/s (detect + align + embed + predict) | {w['photos_per_second']:.1f} |\n")


def speeds(run: Path, aligned: Path) -> tuple[float, float, float]:
    """Training images/s, and aligned faces/s with PyTorch and with ONNX Runtime (the CNN alone)."""
    cnn = AttributePredictor(run, runtime="torch", use_fusion=False)  # the crop speed of the network itself
    onnx = AttributePredictor(run, runtime="onnx", use_fusion=False)
    paths = read_celeba(aligned).frame["path"].tolist()[:2048]
    crops = np.asarray(build_cache(paths, cnn.info.input_size, progress=False).images)
    train = _train_speed(np.asarray(build_cache(paths, 64, progress=False).images))
    return train, _speed(cnn, crops), _speed(onnx, crops)


def _speed_section(run: Path, aligned: Path, figures: dict) -> None:
    train, torch_fps, onnx_fps = speeds(run, aligned)
    figures["speed"] = {
        "train_images_per_second": train,
        "torch_faces_per_second": torch_fps,
        "onnx_faces_per_second": onnx_fps,
    }
    sp = figures["speed"]
    print("## Speed (2 threads)\n\n| figure | value |\n|---|---|")
    print(f"| training images/s (attr_net, 64 px, batch 64, augmented) | {sp['train_images_per_second']:.0f} |")
    print(f"| aligned faces/s, PyTorch | {sp['torch_faces_per_second']:.0f} |")
    print(f"| aligned faces/s, ONNX Runtime | {sp['onnx_faces_per_second']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--wild-limit", type=int, default=None, help="Score only the first N wild photos.")
    ap.add_argument("--json", type=Path, default=None, help="Figures file: read if present, updated, written.")
    ap.add_argument("--embeddings", type=Path, default=None, help="dlib embeddings of celeba-aligned (fused models).")
    ap.add_argument("--model-card", type=Path, default=None, help="Write a model card (needs aligned + wild figures).")
    ap.add_argument("--sections", default="aligned,wild,speed", help="Comma-separated: aligned, wild, speed.")
    args = ap.parse_args()
    run = args.model or default_run()
    sections = set(args.sections.split(","))
    torch.set_num_threads(2)
    figures: dict = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    figures["run"] = str(run)
    aligned = args.shared / "celeba-aligned"
    result = _aligned_section(run, aligned, args.embeddings, figures) if "aligned" in sections else None
    pred = AttributePredictor(run)
    if "wild" in sections:
        _wild_section(pred, args.shared / "celeba-wild", aligned, args.wild_limit, figures)
    if "wild" in figures:
        _print_wild(figures["wild"])
    if "speed" in sections:
        _speed_section(run, aligned, figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.model_card and result is not None and "wild" in figures:
        args.model_card.write_text(model_card(run, pred, result, figures))


def model_card(run: Path, pred: AttributePredictor, result, figures: dict) -> str:
    """Markdown model card from measured figures."""
    info = pred.info
    s, w = result.summary, figures["wild"]
    weights = pred.fusion.weights if pred.fusion else [0.0] * len(info.labels)
    routes = [route_name(w) for w in weights]
    cnn, emb, mixed = route_counts(weights)
    lines = [
        "# rostro shipped model: 40 CelebA attributes",
        "",
        f"- Network: `{info.model}` ({sum(p.numel() for p in pred.model.parameters()):,} parameters), "
        f"input {info.input_size} x {info.input_size} px of a CelebA-aligned crop.",
        "- Fusion: per attribute, the CNN and a logistic head on dlib's 128-d face embedding, mixed in logit space "
        "with the embedding's weight (0 to 1 in steps of 0.1) that scored best on the validation split "
        f"(CNN alone: {cnn}, embedding alone: {emb}, mixed: {mixed}).",
        "- Data: 8,003 CelebA aligned crops at half resolution (../shared/data/celeba-aligned); identity-disjoint "
        "70/15/15 split with seed 0; identities of the eyeglasses set's validate/test images left out entirely."
        + (
            " The CNN also learned from LFW's 7,701 faces (no labels), scored by the previously shipped model "
            "(distillation, two rounds: `python -m benchmarks.teacher`, `soft_labels` in `configs/shipped.yaml`)."
            if info.data.get("soft_labels")
            else ""
        ),
        (
            "- Thresholds: 0.5 (plain BCE keeps probabilities calibrated; tuning per attribute on the validation "
            "split fitted its noise: lower accuracy on held-out validation identities)."
            if info.threshold_metric == "none"
            else f"- Thresholds: per attribute, maximising {info.threshold_metric} on the validation split."
        ),
        f"- Code: rostro {info.rostro_version}, commit {info.git_commit}.",
        "",
        f"## Held-out identities ({result.n:,} aligned test images)",
        "",
        f"Mean accuracy {s['mean_accuracy']:.4f} (always predicting the majority: {s['mean_majority_baseline']:.4f}); "
        f"mean balanced accuracy {s['mean_balanced_accuracy']:.4f}.",
        "",
        "| attribute | route | accuracy | majority | balanced accuracy |",
        "|---|---|---|---|---|",
    ]
    route_of = dict(zip(info.labels, routes, strict=True))
    for name, row in result.table.sort_index().iterrows():
        lines.append(f"| {name} | {route_of[name]} | {row.accuracy:.4f} | {row.majority_baseline:.4f} | "
                     f"{row.balanced_accuracy:.4f} |")  # fmt: skip
    lines += [
        "",
        f"## In-the-wild photos ({w['photos']:,} CelebA photos, ../shared/data/celeba-wild)",
        "",
        f"Face found in {w['face_found_rate']:.2%}; Male accuracy {w['male_accuracy_all']:.4f} counting misses as "
        f"errors, {w['male_accuracy_unseen_identities']:.4f} on the {w['photos_unseen_identities']:,} photos of "
        "identities not in the training split.",
        "",
        "## Known limits",
        "",
        "- CelebA is mostly young, white celebrities photographed at events: expect lower accuracy on other groups, "
        "ages and everyday photos (measure with `rostro audit`).",
        "- Trained on 5,300 labelled faces at 64 px: subjective attributes (Attractive, Oval_Face, Pointy_Nose) "
        "stay near their majority baseline.",
        "- CelebA's labels are noisy; Male is a binary label of presented gender, not an identity.",
        "- Licence: CelebA is for non-commercial research only, and so are these weights.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
