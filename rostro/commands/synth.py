"""``rostro synth``: synthetic faces with known attributes, for tests and demos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rostro.config import save_config

LAYOUTS = ("celeba", "folders")


@dataclass
class SynthConfig:
    out: str
    n: int = 800
    layout: str = "celeba"  # or folders (one folder per class of ``attribute``)
    attribute: str = "Eyeglasses"
    seed: int = 0


@dataclass(kw_only=True)
class SynthResult:
    out: Path
    n: int
    layout: str

    def lines(self) -> list[str]:
        return [f"Wrote {self.n} synthetic faces to {self.out} ({self.layout} layout)."]


def synth(cfg: SynthConfig) -> SynthResult:
    """Draw ``cfg.n`` faces into ``cfg.out`` in CelebA's layout or one folder per class."""
    from rostro.data.synthetic import write_celeba, write_folders

    if cfg.layout not in LAYOUTS:
        raise ValueError(f"layout must be 'celeba' or 'folders', got {cfg.layout!r}")
    out = Path(cfg.out)
    if cfg.layout == "celeba":
        write_celeba(out, cfg.n, seed=cfg.seed)
    else:
        write_folders(out, cfg.n, attribute=cfg.attribute, seed=cfg.seed)
    save_config(cfg, out / "config.yaml")
    return SynthResult(out=out, n=cfg.n, layout=cfg.layout)
