"""Procedurally drawn faces with known attributes, for tests and the embedded default.

Each identity has a fixed sex cue (a wider, square jaw stands for ``Male``), skin tone,
hair colour and beard; each image adds a smile, eyeglasses, pose and lighting. Faces are
drawn on CelebA's aligned template (eyes at (69, 111) and (108, 111) of a 178 x 218 crop),
so they pass through the same crop and alignment code as real aligned faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

ATTRIBUTES = [
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Eyeglasses",
    "Gray_Hair",
    "Male",
    "No_Beard",
    "Pale_Skin",
    "Smiling",
]
_HAIR = {
    "Black_Hair": (25, 20, 18),
    "Brown_Hair": (105, 65, 35),
    "Blond_Hair": (225, 195, 120),
    "Gray_Hair": (165, 165, 160),
}
_HAIR_P = [0.3, 0.3, 0.25, 0.15]
_SKIN_PALE = [(245, 222, 205), (238, 210, 190)]
_SKIN_OTHER = [(224, 172, 130), (190, 135, 95), (140, 95, 65), (100, 65, 45)]
CELEBA_SIZE = (178, 218)


def _identity_traits(rng: np.random.Generator) -> dict:
    male = rng.random() < 0.42
    pale = rng.random() < 0.25
    skin_choices = _SKIN_PALE if pale else _SKIN_OTHER
    return {
        "Male": male,
        "Pale_Skin": pale,
        "skin": np.array(skin_choices[rng.integers(len(skin_choices))], dtype=float),
        "hair": list(_HAIR)[rng.choice(4, p=_HAIR_P)],
        "beard": male and rng.random() < 0.45,
        "face_w": rng.uniform(0.29, 0.32) if not male else rng.uniform(0.34, 0.37),
        "eye_dx": rng.uniform(-0.01, 0.01),
    }


def _draw_face(traits: dict, attrs: dict, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Draw one face at 2x and downsample, so edges are antialiased like a photo's."""
    W, H = size[0] * 2, size[1] * 2
    bg = tuple(int(c) for c in rng.integers(40, 220, 3))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    light = rng.uniform(0.85, 1.15)
    skin = tuple(int(c) for c in np.clip(traits["skin"] * light, 0, 255))
    hair = tuple(int(c) for c in np.clip(np.array(_HAIR[traits["hair"]]) * light, 0, 255))
    cx = W * (0.5 + rng.uniform(-0.02, 0.02))
    cy = H * rng.uniform(-0.015, 0.015)
    fw, male = W * traits["face_w"], traits["Male"]

    def Y(f: float) -> float:
        return H * f + cy

    # hair behind the head; long hair falls to the shoulders for the female cue
    d.ellipse([cx - fw * 1.12, Y(0.20), cx + fw * 1.12, Y(0.62)], fill=hair)
    if not male:
        d.rectangle([cx - fw * 1.15, Y(0.40), cx - fw * 0.75, Y(0.95)], fill=hair)
        d.rectangle([cx + fw * 0.75, Y(0.40), cx + fw * 1.15, Y(0.95)], fill=hair)
    # face: an oval, or a square jaw for the male cue
    if male:
        d.ellipse([cx - fw, Y(0.28), cx + fw, Y(0.70)], fill=skin)
        d.rounded_rectangle([cx - fw * 0.97, Y(0.50), cx + fw * 0.97, Y(0.84)], radius=fw * 0.25, fill=skin)
    else:
        d.ellipse([cx - fw, Y(0.28), cx + fw, Y(0.84)], fill=skin)
    d.chord([cx - fw, Y(0.22), cx + fw, Y(0.44)], 180, 360, fill=hair)  # fringe
    if traits["beard"]:
        beard = tuple(int(c * 0.9) for c in _HAIR["Black_Hair" if traits["hair"] == "Blond_Hair" else traits["hair"]])
        d.chord([cx - fw * 0.95, Y(0.58), cx + fw * 0.95, Y(0.86)], 0, 180, fill=beard)
    # eyes and brows on the CelebA template
    ex = [W * (0.388 + traits["eye_dx"]), W * (0.607 - traits["eye_dx"])]
    ey, er = Y(0.509), W * 0.028
    for x in ex:
        d.ellipse([x - er * 1.6, ey - er, x + er * 1.6, ey + er], fill=(250, 250, 250))
        d.ellipse([x - er * 0.8, ey - er * 0.8, x + er * 0.8, ey + er * 0.8], fill=(50, 35, 25))
        d.line([x - er * 2, ey - er * 2.6, x + er * 2, ey - er * 2.9], fill=hair, width=int(W * 0.012))
    # nose
    nx, ny = W * 0.494, Y(0.619)
    d.line([nx, ey + er, nx - W * 0.015, ny, nx + W * 0.01, ny], fill=tuple(int(c * 0.8) for c in skin), width=3)
    # mouth: a wide open smile or a flat line
    mx0, mx1, my = W * 0.404, W * 0.590, Y(0.697)
    if attrs["Smiling"]:
        d.chord([mx0, my - H * 0.035, mx1, my + H * 0.035], 0, 180, fill=(150, 40, 50))
        d.rectangle([mx0 + W * 0.02, my, mx1 - W * 0.02, my + H * 0.01], fill=(245, 245, 240))
    else:
        d.line([mx0 + W * 0.01, my, mx1 - W * 0.01, my], fill=(150, 60, 60), width=int(H * 0.008))
    if attrs["Eyeglasses"]:
        frame = tuple(int(c) for c in rng.integers(0, 60, 3))
        lw, gr = int(W * 0.012), er * 2.6
        for x in ex:
            d.ellipse([x - gr, ey - gr * 0.8, x + gr, ey + gr * 0.8], outline=frame, width=lw)
        d.line([ex[0] + gr, ey, ex[1] - gr, ey], fill=frame, width=lw)
        d.line([ex[0] - gr, ey, cx - fw, ey - er], fill=frame, width=lw)
        d.line([ex[1] + gr, ey, cx + fw, ey - er], fill=frame, width=lw)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    img = img.rotate(rng.uniform(-4, 4), resample=Image.BILINEAR, fillcolor=bg)
    img = img.resize(size, Image.BILINEAR, reducing_gap=2.0)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 4, (size[1], size[0], 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def make_faces(
    n: int,
    *,
    size: tuple[int, int] = CELEBA_SIZE,
    n_identities: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Draw ``n`` faces of ``size`` (width, height).

    Returns the images (N x H x W x 3 uint8) and a frame with an ``identity`` column and
    one 0/1 column per name in :data:`ATTRIBUTES`.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    n_identities = n_identities or max(1, n // 8)
    people = [_identity_traits(rng) for _ in range(n_identities)]
    who = np.sort(
        np.concatenate([np.arange(min(n, n_identities)), rng.integers(0, n_identities, max(0, n - n_identities))])
    )
    images = np.empty((n, size[1], size[0], 3), dtype=np.uint8)
    rows = []
    for i, pid in enumerate(who):
        traits = people[pid]
        attrs = {"Smiling": rng.random() < 0.5, "Eyeglasses": rng.random() < 0.3}
        images[i] = _draw_face(traits, attrs, rng, size)
        rows.append(
            {
                "identity": f"{pid + 1}",
                **{h: traits["hair"] == h for h in _HAIR},
                "Eyeglasses": attrs["Eyeglasses"],
                "Male": traits["Male"],
                "No_Beard": not traits["beard"],
                "Pale_Skin": traits["Pale_Skin"],
                "Smiling": attrs["Smiling"],
            }
        )
    frame = pd.DataFrame(rows)
    frame[ATTRIBUTES] = frame[ATTRIBUTES].astype(np.int8)
    return images, frame[["identity", *ATTRIBUTES]]


def _identity_partition(identities: pd.Series, seed: int, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """0/1/2 per row, whole identities to one split (as CelebA's official partition does)."""
    ids = identities.unique()
    order = np.random.default_rng(seed).permutation(len(ids))
    cut = np.cumsum(fractions)[:2] * len(ids)
    code = {ids[j]: int(np.searchsorted(cut, rank, side="right")) for rank, j in enumerate(order)}
    return identities.map(code).to_numpy()


def write_celeba(
    root: str | Path,
    n: int = 800,
    *,
    size: tuple[int, int] = CELEBA_SIZE,
    seed: int = 0,
) -> Path:
    """Write ``n`` synthetic faces in CelebA's layout (images and the three label files)."""
    root = Path(root)
    img_dir = root / "img_align_celeba"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, frame = make_faces(n, size=size, seed=seed)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name, img in zip(names, images, strict=True):
        Image.fromarray(img).save(img_dir / name, quality=92)
    signed = frame[ATTRIBUTES].to_numpy() * 2 - 1
    lines = [str(n), " ".join(ATTRIBUTES)]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, signed, strict=True)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    part = _identity_partition(frame["identity"], seed)
    (root / "list_eval_partition.txt").write_text("".join(f"{a} {b}\n" for a, b in zip(names, part, strict=True)))
    ident = frame["identity"]
    (root / "identity_CelebA.txt").write_text("".join(f"{a} {b}\n" for a, b in zip(names, ident, strict=True)))
    return root


def write_folders(
    root: str | Path,
    n: int = 400,
    *,
    attribute: str = "Eyeglasses",
    size: tuple[int, int] = CELEBA_SIZE,
    seed: int = 0,
) -> Path:
    """Write ``n`` synthetic faces as ``ROOT/{train,validate,test}/{x,no_x}/*.jpg`` for one attribute."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute must be one of {ATTRIBUTES}, got {attribute!r}")
    root = Path(root)
    images, frame = make_faces(n, size=size, seed=seed)
    split_names = np.array(["train", "validate", "test"])[
        _identity_partition(frame["identity"], seed, (0.7, 0.15, 0.15))
    ]
    pos = attribute.lower()
    for i, (img, split, y) in enumerate(zip(images, split_names, frame[attribute], strict=True)):
        folder = root / split / (pos if y else f"no_{pos}")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i + 1:06d}.jpg", quality=92)
    return root


def write_utkface(root: str | Path, n: int = 80, *, size: int = 64, seed: int = 0) -> Path:
    """Write ``n`` synthetic faces named as UTKFace names its chips (``AGE_GENDER_RACE_DATETIME``),
    ages 1 to 90, races 0 to 3; gender follows the drawn face's Male."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    images, frame = make_faces(n, size=(size, size), seed=seed)
    rng = np.random.default_rng(seed)
    for i, (img, male) in enumerate(zip(images, frame["Male"], strict=True)):
        age, race = int(rng.integers(1, 91)), int(rng.integers(0, 4))
        Image.fromarray(img).save(root / f"{age}_{0 if male else 1}_{race}_20170116{i:09d}.jpg.chip.jpg", quality=92)
    return root
