"""``rostro embed`` (face embeddings of a dataset or any folder of photos) and ``rostro fuse`` (heads on
those embeddings fused into a run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rostro.config import save_config
from rostro.data.loading import DataConfig, open_data
from rostro.distributed import finish as finish_distributed
from rostro.distributed import init_world, launched
from rostro.faces.status import status_counts


@dataclass
class EmbedConfig(DataConfig):
    """Embeddings for every image of ``data`` (a dataset in any layout rostro reads, or a plain folder)."""

    out: str = "embeddings.parquet"  # a re-run skips the images already in it
    model: str | None = None  # a run whose features replace dlib's descriptor
    aligned: bool = False  # images are CelebA-aligned crops: no detection
    workers: int | None = None
    chunk: int = 32  # images per task; progress is saved every 20 tasks or minute
    pick: str = "largest"  # or centre, for pre-cropped sets
    flip: bool = True  # mirror-image averaging (--no-flip: dlib's own vector); EER 0.0355 -> 0.0334 on celeba-wild
    jitter: int = 0
    face_network: str = "onnx"  # onnx, torch, or dlib itself (to check)


@dataclass(kw_only=True)
class EmbedResult:
    frame: pd.DataFrame
    out: Path

    def lines(self) -> list[str]:
        c = status_counts(self.frame["error"])
        return [f"{c['images']:,} images, {c['face_found']:,} embedded, {c['no_face']:,} without a face, "
                f"{c['unreadable']:,} unreadable.", f"Wrote {self.out}"]  # fmt: skip


def embed(cfg: EmbedConfig) -> EmbedResult | None:
    """Embed, resuming ``cfg.out``; under torchrun each rank takes a shard (other ranks return None)."""
    from rostro.inference.embed import embed_dataset, embed_sharded

    ds = open_data(cfg, labels_optional=True)
    out = Path(cfg.out)
    options = {"aligned": cfg.aligned, "run": cfg.model, "pick": cfg.pick, "flip": cfg.flip, "jitter": cfg.jitter,
               "backend": cfg.face_network, "chunk": cfg.chunk}  # fmt: skip
    try:
        if launched():
            frame = embed_sharded(ds, out, init_world(), workers=1, **options)
        else:
            frame = embed_dataset(ds, out, workers=cfg.workers, **options)
    finally:
        finish_distributed()
    if frame is None:  # a rank other than 0 under torchrun
        return None
    save_config(cfg, out.with_suffix(".config.yaml"))
    return EmbedResult(frame=frame, out=out)


@dataclass
class FuseConfig:
    run: str
    embeddings: str | None = None  # dlib embeddings of the run's data (rostro embed --aligned)
    data: str | None = None  # the dataset, when it moved since training
    # instead of embeddings: a chip run (e.g. v3) mixed in per attribute and for age; the run must be a
    # train-multitask run on crops (chosen on its validation rows)
    partner: str | None = None

    def __post_init__(self) -> None:
        if (self.embeddings is None) == (self.partner is None):
            raise ValueError("FuseConfig: expected EMBEDDINGS or --partner RUN, found "
                             f"{'both' if self.partner else 'neither'}; give one")  # fmt: skip


@dataclass(kw_only=True)
class FuseResult:
    weights: list[float]
    path: Path
    other: str = "embedding"

    def lines(self) -> list[str]:
        from rostro.models.fusion import route_counts

        cnn, other, mixed = route_counts(self.weights)
        return [f"Chosen on validation: {cnn} attributes from the CNN alone, {other} from the {self.other} alone, "
                f"{mixed} mixed. Wrote {self.path}"]  # fmt: skip


def fuse(cfg: FuseConfig) -> FuseResult:
    """Add heads on dlib embeddings (or a partner chip run) to a run and choose, per attribute, how much of each."""
    from rostro.training.fusion import fit_fusion, fit_partner_fusion

    if cfg.partner:
        fusion = fit_partner_fusion(cfg.run, cfg.partner)
    else:
        fusion = fit_fusion(cfg.run, cfg.embeddings, data=cfg.data)
    save_config(cfg, Path(cfg.run) / "fuse.config.yaml")
    return FuseResult(weights=list(fusion.weights), path=Path(cfg.run) / "fusion.json",
                      other="partner" if cfg.partner else "embedding")  # fmt: skip
