"""A name-to-constructor registry (timm's habit): one entry point builds any rostro network.

Each entry carries the input size and normalisation its preprocessing needs, so transforms,
prediction and the service read them instead of hard-coding.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    constructor: Callable[..., nn.Module]
    input_size: int
    mean: float
    std: float
    description: str
    any_size: bool = False  # fully convolutional up to a global pool: a trained trunk runs at any input size


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(*, input_size: int = 64, mean: float = 0.5, std: float = 0.5, any_size: bool = False):
    """Register a constructor under its function name, with its preprocessing defaults.

    ``any_size`` marks a network whose weights do not depend on the input size, so a transfer
    from it may change the size (detail the trunk never saw at its own size, such as thin frames).
    """

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if fn.__name__ in _REGISTRY:
            log.warning("model %r registered twice; the later one wins", fn.__name__)
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[fn.__name__] = ModelSpec(fn.__name__, fn, input_size, mean, std, doc[0] if doc else "", any_size)
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_spec(name: str) -> ModelSpec:
    from rostro.validation import suggest

    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}.{suggest(name, _REGISTRY)} Available: {list_models()}")
    return _REGISTRY[name]


def create_model(name: str, *, checkpoint_path: str | Path | None = None, **kwargs) -> nn.Module:
    """Build a registered model; ``None`` kwargs are dropped; weights load with shape checks."""
    spec = model_spec(name)
    model = spec.constructor(**{k: v for k, v in kwargs.items() if v is not None})
    if checkpoint_path is not None:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        load_weights(model, state, source=str(checkpoint_path))
    return model


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], *, source: str, strict: bool = True) -> None:
    """Load a state dict after checking every tensor's shape, naming the first mismatch."""
    own = model.state_dict()
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"{source}: tensor {key!r} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}"
            )
    missing, unexpected = model.load_state_dict(state, strict=False)
    if strict and (missing or unexpected):
        raise ValueError(f"{source}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
