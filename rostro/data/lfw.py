"""Read LFW as it ships: ``lfw/PERSON/PERSON_NNNN.jpg`` and the pairs files of its protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.celeba import read_text_lines
from rostro.errors import DataFormatError
from rostro.validation import check_dir


def _image(root: Path, name: str, number: str, pairs: Path, line: int) -> str:
    if not number.isdigit():
        raise DataFormatError(f"image number {number!r} is not a number", file=pairs, line=line)
    path = root / name / f"{name}_{int(number):04d}.jpg"
    if not path.is_file():
        raise DataFormatError(f"pair names a missing image {path}", file=pairs, line=line)
    return str(path)


def read_lfw_pairs(root: str | Path, pairs_file: str | Path | None = None) -> pd.DataFrame:
    """Pairs with their fold: ``fold``, ``path_a``, ``path_b``, ``same``, ``name_a``, ``name_b``, ``line``.

    ``pairs.txt`` (View 2) starts with ``FOLDS N`` and holds, per fold, N same-person lines
    ``NAME n1 n2`` then N different-person lines ``NAME1 n1 NAME2 n2``.
    ``pairsDevTrain.txt``/``pairsDevTest.txt`` (View 1) start with ``N``: one fold.
    """
    root = check_dir(root, what="LFW folder")
    images = root / "lfw" if (root / "lfw").is_dir() else root
    pairs = Path(pairs_file) if pairs_file is not None else root / "pairs.txt"
    if not pairs.is_file():
        raise DataFormatError("pairs file not found", file=pairs)
    lines = [(i + 1, ln.split()) for i, ln in enumerate(read_text_lines(pairs)) if ln.strip()]
    if not lines:
        raise DataFormatError("empty pairs file", file=pairs)
    head_line, head = lines[0]
    if not all(t.isdigit() for t in head) or len(head) not in (1, 2):
        raise DataFormatError(f"expected 'FOLDS N' or 'N' on the first line, found {' '.join(head)!r}", file=pairs,
                              line=head_line)  # fmt: skip
    folds, per = (1, int(head[0])) if len(head) == 1 else (int(head[0]), int(head[1]))
    body = lines[1:]
    if len(body) != folds * per * 2:
        raise DataFormatError(
            f"line {head_line} announces {folds} fold(s) of {per} same + {per} different pairs "
            f"({folds * per * 2} lines), found {len(body)}", file=pairs,
        )  # fmt: skip
    rows = []
    for k, (line, toks) in enumerate(body):
        fold, same_expected = k // (2 * per), (k % (2 * per)) < per
        if len(toks) == 3:  # NAME n1 n2
            (name_a, n_a), (name_b, n_b), same = (toks[0], toks[1]), (toks[0], toks[2]), True
        elif len(toks) == 4:  # NAME1 n1 NAME2 n2
            (name_a, n_a), (name_b, n_b), same = (toks[0], toks[1]), (toks[2], toks[3]), False
        else:
            raise DataFormatError(f"expected 3 fields (same person) or 4 (different), found {len(toks)}", file=pairs,
                                  line=line)  # fmt: skip
        a, b = _image(images, name_a, n_a, pairs, line), _image(images, name_b, n_b, pairs, line)
        names = (name_a, name_b)
        if same != same_expected:
            kind = "same-person" if same_expected else "different-person"
            raise DataFormatError(f"expected a {kind} pair at this position of fold {fold + 1}", file=pairs, line=line)
        rows.append({"fold": fold, "path_a": a, "path_b": b, "same": same, "name_a": names[0], "name_b": names[1],
                     "line": line})  # fmt: skip
    return pd.DataFrame(rows)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold with the highest accuracy on these pairs (midpoint between scores)."""
    order = np.sort(np.unique(scores))
    cands = np.r_[order[0] - 1e-6, (order[1:] + order[:-1]) / 2, order[-1] + 1e-6]
    acc = [((scores >= t) == same).mean() for t in cands]
    return float(cands[int(np.argmax(acc))])


def lfw_protocol(
    scores: np.ndarray,
    same: np.ndarray,
    folds: np.ndarray,
    *,
    refined: np.ndarray | None = None,
    band: float = 0.0,
) -> pd.DataFrame:
    """The standard protocol: for each fold, a threshold chosen on the other folds, accuracy on it.

    With ``refined`` (scores from a slower embedding, e.g. dlib's jittered copies, NaN where not
    computed) a pair whose score lies within ``band`` of its fold's threshold is decided by its
    refined score instead, against a second threshold chosen on the other folds' pairs in the
    same band: the cheap score settles the clear pairs, the slow one only the doubtful ones.
    ``near_threshold`` names the pairs that need a refined score, from the plain run's thresholds.
    """
    scores, same, folds = np.asarray(scores, float), np.asarray(same, bool), np.asarray(folds)
    if refined is not None:
        refined = np.asarray(refined, float)
        if refined.shape != scores.shape:
            raise ValueError(f"refined has {refined.shape[0]} scores, expected one per pair ({scores.shape[0]})")
    rows = []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(scores[~test], same[~test])
        decided = scores >= t
        row = {"fold": int(f) + 1, "threshold": t}
        if refined is not None:
            near = np.abs(scores - t) < band
            if np.isnan(refined[near]).any():
                raise ValueError(f"{int(np.isnan(refined[near]).sum())} pair(s) within {band} of fold {f + 1}'s "
                                 "threshold lack a refined score (see near_threshold)")  # fmt: skip
            t2 = best_threshold(refined[near & ~test], same[near & ~test]) if (near & ~test).any() else t
            decided = np.where(near, refined >= t2, decided)
            row |= {"refined_threshold": t2, "refined_pairs": int((near & test).sum())}
        rows.append(row | {"accuracy": float((decided[test] == same[test]).mean()), "pairs": int(test.sum())})
    return pd.DataFrame(rows)


def near_threshold(scores: np.ndarray, thresholds: np.ndarray, band: float) -> np.ndarray:
    """Pairs within ``band`` of any fold's threshold (``lfw_protocol``'s ``threshold`` column):
    those it decides by their refined score, so those whose images need one."""
    scores = np.asarray(scores, float)
    return (np.abs(scores[:, None] - np.asarray(thresholds, float)[None, :]) < band).any(axis=1)
