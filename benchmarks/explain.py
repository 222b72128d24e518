"""How faithful the saliency maps are: a deletion test on validation faces, per attribute and layer.

Run: ``python -m benchmarks.explain [--run RUN] [--faces 96] [--layers auto,last,...]``.
For each validation face (celeba-aligned and celeba-aligned-extra crops of model v2's validation
split, which no choice here looks past) and each attribute, the top ``--fraction`` of the map's
pixels on the network's input are blanked (set to the input's mean colour) and the attribute's
logit is read again; the same number of random pixels gives the reference. A faithful map makes
the logit fall more than random pixels do. Also times 40 maps for one photo. Prints one table and
writes ``benchmarks/results/explain.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.heldout import test_table
from rostro.data.images import load_image
from rostro.inference.explain import Explainer, candidate_layers, gradcam
from rostro.inference.predict import SHIPPED_RUN, sample_photo
from rostro.models.inference import predict_logits

ROOT = Path(__file__).resolve().parents[1]


def validation_inputs(explainer: Explainer, shared: Path, n: int, seed: int = 0) -> np.ndarray:
    """The network inputs of ``n`` validation crops with all 40 labels (model v2's split)."""
    table, labels, _ = test_table(shared, "validation")
    rows = table[table[labels].notna().all(axis=1)]
    paths = rows["path"].sample(min(n, len(rows)), random_state=seed).tolist()
    return np.stack([explainer.inputs(load_image(p), aligned=True)[1] for p in paths])


def deletion(model, inputs: np.ndarray, maps: np.ndarray, mean: float, std: float, fraction: float, seed: int = 0):
    """N x K logit drops when the top ``fraction`` of each map's pixels are blanked, and for random pixels."""
    n, k, size = maps.shape[0], maps.shape[1], inputs.shape[1]
    count = int(fraction * size * size)
    base = predict_logits(model, inputs, mean=mean, std=std)
    rng = np.random.default_rng(seed)
    fill = inputs.reshape(n, -1, 3).mean(axis=1).astype(np.uint8)
    drops = np.zeros((2, n, k), np.float32)
    for j in range(k):
        for which in (0, 1):
            blanked = inputs.copy().reshape(n, -1, 3)
            for i in range(n):
                top = np.argsort(-maps[i, j].ravel())[:count] if which == 0 else rng.choice(size * size, count, False)
                blanked[i, top] = fill[i]
            after = predict_logits(model, blanked.reshape(inputs.shape), mean=mean, std=std)
            drops[which, :, j] = base[:, j] - after[:, j]
    return drops[0], drops[1]


def measure(run: Path, shared: Path, *, faces: int = 96, fraction: float = 0.1, layers=("auto", "last")) -> dict:
    """The deletion test for each layer choice and the time of 40 maps for one photo; the markdown in ``text``."""
    torch.set_num_threads(2)
    explainer = Explainer(run)
    model, info, labels = explainer.model, explainer.info, explainer.labels
    sides = [s for _, s in candidate_layers(model, info.input_size)]
    inputs = validation_inputs(explainer, shared, faces)
    per_layer = {}
    for layer in layers:
        maps = gradcam(model, inputs, range(len(labels)), mean=info.mean, std=info.std, layer=layer)
        salient, random = deletion(model, inputs, maps, info.mean, info.std, fraction)
        per_layer[str(layer)] = (salient.mean(0), random.mean(0), (salient > random).mean(0))
    img = load_image(sample_photo())
    explainer.explain([img], labels)  # warm: detector and network loaded
    start = time.perf_counter()
    explainer.explain([img], labels)
    seconds = time.perf_counter() - start
    lines = [f"# Deletion test: {len(inputs)} validation faces, top {fraction:.0%} of each map blanked",
             "", f"Run {run}; candidate layers' sides {sides}; 40 maps, one photo: {seconds:.2f} s (2 threads).",
             "", "| attribute | " + " | ".join(f"{k}: salient / random drop (wins)" for k in per_layer) + " |",
             "|---|" + "---|" * len(per_layer)]  # fmt: skip
    for j, name in enumerate(labels):
        cells = [f"{s[j]:+.3f} / {r[j]:+.3f} ({w[j]:.2f})" for s, r, w in per_layer.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"**{s.mean():+.3f} / {r.mean():+.3f} ({w.mean():.2f})**" for s, r, w in per_layer.values()]
    lines.append("| mean over 40 | " + " | ".join(cells) + " |")
    layers_out = {k: {"salient": s.tolist(), "random": r.tolist(), "wins": w.tolist(), "mean_salient": float(s.mean()),
                      "mean_random": float(r.mean()), "attributes_won": int((s > r).sum())}
                  for k, (s, r, w) in per_layer.items()}  # fmt: skip
    return {"run": str(run), "faces": len(inputs), "fraction": fraction, "sides": sides, "layers": layers_out,
            "seconds_40_maps": seconds, "text": "\n".join(lines) + "\n"}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=SHIPPED_RUN)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--faces", type=int, default=96)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--layers", default="auto,last")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    layers = [int(v) if v.lstrip("-").isdigit() else v for v in args.layers.split(",")]
    figures = measure(args.run, args.shared, faces=args.faces, fraction=args.fraction, layers=layers)
    text = figures.pop("text")
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "explain.md").write_text(text)
    (args.results / "explain.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
