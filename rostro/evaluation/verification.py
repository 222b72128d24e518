"""Face verification the way biometrics reports it: genuine/impostor scores, FAR/FRR, EER,
ROC and DET, FRR at target FARs, and error rates per group at one global threshold.

Scores are similarities: higher means "same person". Cosine similarity is used as is;
Euclidean distances are negated. :func:`similarity` and :func:`far_frr` are the one place
each is computed (evaluation, LFW, the CLI's and the service's verify).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

METRICS = ("cosine", "euclidean")


@dataclass(kw_only=True)
class Pairs:
    """Scored pairs: index of both images, similarity, whether they show the same identity."""

    a: np.ndarray
    b: np.ndarray
    scores: np.ndarray
    genuine: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def shared_group(self, image_groups: np.ndarray | pd.Series) -> pd.Categorical:
        """Each pair's group when both its images are in it, else missing: genuine pairs always
        share a group that is a trait of the person, cross-group impostors are counted in none.
        Every image group is a category, so a group without pairs still gets a row."""
        groups = np.asarray(image_groups).astype(str)
        ga, gb = groups[self.a], groups[self.b]
        return pd.Categorical(np.where(ga == gb, ga, None), categories=sorted(set(groups)))


def similarity(x: np.ndarray, y: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Row-wise similarity of two N x D matrices."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "euclidean":
        return -np.linalg.norm(x - y, axis=1)
    nx = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return np.einsum("ij,ij->i", x, y) / np.maximum(nx, 1e-12)


def make_pairs(
    embeddings: np.ndarray,
    identities: np.ndarray,
    *,
    metric: str = "cosine",
    max_genuine: int | None = None,
    max_impostor: int | None = 200_000,
    seed: int = 0,
) -> Pairs:
    """All genuine pairs (or a seeded sample of ``max_genuine``) and a seeded sample of impostor pairs."""
    emb = np.asarray(embeddings, np.float64)
    ids = np.asarray(identities).astype(str)
    if emb.ndim != 2 or len(emb) != len(ids):
        raise ValueError(f"make_pairs: expected N x D embeddings and N identities, got {emb.shape} and {ids.shape}")
    rng = np.random.default_rng(seed)
    order = np.argsort(ids, kind="stable")
    genuine_a, genuine_b = [], []
    for members in np.split(order, np.flatnonzero(np.diff(pd.factorize(ids[order])[0])) + 1):
        if len(members) > 1:
            i, j = np.triu_indices(len(members), k=1)
            genuine_a.append(members[i])
            genuine_b.append(members[j])
    ga = np.concatenate(genuine_a) if genuine_a else np.zeros(0, int)
    gb = np.concatenate(genuine_b) if genuine_b else np.zeros(0, int)
    if max_genuine is not None and len(ga) > max_genuine:
        keep = np.sort(rng.choice(len(ga), max_genuine, replace=False))
        ga, gb = ga[keep], gb[keep]
    n = len(ids)
    total_impostor = n * (n - 1) // 2 - len(ga)
    want = total_impostor if max_impostor is None else min(max_impostor, total_impostor)
    if want > total_impostor // 2:  # dense: enumerate every pair, then sample
        ia, ib = np.triu_indices(n, k=1)
        keep = ids[ia] != ids[ib]
        ia, ib = ia[keep], ib[keep]
    else:  # sparse: draw random pairs until enough distinct ones
        ia, ib = np.zeros(0, int), np.zeros(0, int)
        while len(ia) < want:
            x = rng.integers(0, n, 2 * (want - len(ia)) + 16)
            y = rng.integers(0, n, len(x))
            ok = ids[x] != ids[y]
            lo, hi = np.minimum(x[ok], y[ok]), np.maximum(x[ok], y[ok])
            pairs = np.unique(np.concatenate([np.stack([ia, ib], 1), np.stack([lo, hi], 1)]), axis=0)
            ia, ib = pairs[:, 0], pairs[:, 1]
    if len(ia) > want:
        keep = np.sort(rng.choice(len(ia), want, replace=False))
        ia, ib = ia[keep], ib[keep]
    a, b = np.concatenate([ga, ia]), np.concatenate([gb, ib])
    genuine = np.r_[np.ones(len(ga), bool), np.zeros(len(ia), bool)]
    return Pairs(a=a, b=b, scores=similarity(emb[a], emb[b], metric), genuine=genuine)


def far_frr(genuine_scores: np.ndarray, impostor_scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """(FAR, FRR) when pairs scoring >= ``threshold`` are accepted; NaN for a side with no pairs."""
    far = float((impostor_scores >= threshold).mean()) if len(impostor_scores) else float("nan")
    frr = float((genuine_scores < threshold).mean()) if len(genuine_scores) else float("nan")
    return far, frr


@dataclass(kw_only=True)
class VerificationResult:
    """FAR and FRR at every distinct score threshold, with the EER and operating points; with
    ``groups`` given to :func:`verification_curves`, the same per group (:meth:`by_group`)."""

    thresholds: np.ndarray
    far: np.ndarray
    frr: np.ndarray
    n_genuine: int
    n_impostor: int
    eer: float
    eer_threshold: float
    genuine_scores: np.ndarray = field(repr=False)
    impostor_scores: np.ndarray = field(repr=False)
    group_scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def rates_at(self, threshold: float) -> tuple[float, float]:
        """(FAR, FRR) when pairs scoring >= ``threshold`` are accepted."""
        return far_frr(self.genuine_scores, self.impostor_scores, threshold)

    def by_group(self, threshold: float) -> pd.DataFrame:
        """FAR and FRR per group at one global threshold, beside each group's own EER."""
        if not self.group_scores:
            raise ValueError("by_group: no groups; pass groups= to verification_curves")
        rows = []
        for name, (gen, imp) in self.group_scores.items():
            far, frr = far_frr(gen, imp, threshold)
            eer = _curves(gen, imp).eer if len(gen) and len(imp) else float("nan")
            rows.append({"group": name, "genuine_pairs": len(gen), "impostor_pairs": len(imp), "far": far,
                         "frr": frr, "eer": eer})  # fmt: skip
        return pd.DataFrame(rows).set_index("group")

    def threshold_at_far(self, target: float) -> float:
        """The lowest threshold whose FAR does not exceed ``target``."""
        ok = np.flatnonzero(self.far <= target)
        return float(self.thresholds[ok[0]]) if len(ok) else float(self.thresholds[-1])

    def operating_points(self, targets: tuple[float, ...] = (1e-2, 1e-3, 1e-4)) -> pd.DataFrame:
        """FRR at each target FAR that the impostor count can resolve (at least 1 / target pairs)."""
        rows = []
        for target in targets:
            if self.n_impostor * target < 1:
                continue
            t = self.threshold_at_far(target)
            far, frr = self.rates_at(t)
            rows.append({"target_far": target, "threshold": t, "far": far, "frr": frr})
        rows.append({"target_far": "EER", "threshold": self.eer_threshold, "far": self.eer, "frr": self.eer})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "operating_points": self.operating_points().to_dict(orient="records"),
        }


def _curves(gen: np.ndarray, imp: np.ndarray) -> VerificationResult:
    """The curves from sorted genuine and impostor scores, both non-empty."""
    s = np.r_[gen, imp]
    thresholds = np.unique(np.r_[s, s.max() + 1e-9])
    far = 1 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    frr = np.searchsorted(gen, thresholds, side="left") / len(gen)
    k = int(np.argmin(np.abs(far - frr)))
    # FAR falls and FRR rises with the threshold: average the two at their closest point
    return VerificationResult(thresholds=thresholds, far=far, frr=frr, n_genuine=len(gen), n_impostor=len(imp),
                              eer=float((far[k] + frr[k]) / 2), eer_threshold=float(thresholds[k]),
                              genuine_scores=gen, impostor_scores=imp)  # fmt: skip


def verification_curves(
    scores: np.ndarray, genuine: np.ndarray, *, groups: pd.Categorical | np.ndarray | None = None
) -> VerificationResult:
    """FAR(t), FRR(t) and the equal error rate from similarity scores and same/different labels.

    ``groups`` (one value per pair, missing for a pair in no group; ``Pairs.shared_group`` makes
    them) keeps each group's scores for :meth:`VerificationResult.by_group`.
    """
    s = np.asarray(scores, np.float64)
    g = np.asarray(genuine, bool)
    if s.shape != g.shape or s.ndim != 1:
        raise ValueError(f"verification_curves: scores {s.shape} and labels {g.shape} must be equal 1-D shapes")
    if not g.any() or g.all():
        raise ValueError("verification_curves: need both genuine and impostor pairs")
    if not np.isfinite(s).all():
        raise ValueError("verification_curves: scores contain NaN or infinity")
    result = _curves(np.sort(s[g]), np.sort(s[~g]))
    if groups is not None:
        groups = pd.Categorical(groups)
        if len(groups) != len(s):
            raise ValueError(f"verification_curves: {len(groups)} group values for {len(s)} pairs")
        result.group_scores = {str(name): (np.sort(s[g & (groups == name)]), np.sort(s[~g & (groups == name)]))
                               for name in groups.categories}  # fmt: skip
    return result
