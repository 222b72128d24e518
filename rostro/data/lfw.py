"""Read LFW as it ships: ``lfw/PERSON/PERSON_NNNN.jpg`` and the pairs files of its protocol
(which ``rostro.evaluation.lfw`` scores)."""

from __future__ import annotations

from pathlib import Path

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
