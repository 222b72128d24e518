"""One dataclass per command, loadable from YAML and saved next to every run."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from rostro.validation import suggest

C = TypeVar("C")


def _coerce(value: Any, annotation: Any, name: str) -> Any:
    """Check a YAML value against a field's type, converting lists to tuples where declared."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, name)
            except TypeError as exc:
                errors.append(str(exc))
        raise TypeError(errors[0])
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"config key {name!r}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, name) for v in value)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise TypeError(f"config key {name!r}: expected a list, got {value!r}")
        return [_coerce(v, args[0] if args else Any, name) for v in value]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise TypeError(f"config key {name!r}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type[C], data: dict[str, Any], *, shown: Callable[[str], str] = str) -> C:
    """Build ``cls`` from a mapping; unknown keys and wrong types are rejected by name, and missing
    required keys are named as ``shown`` spells them (the CLI: ``--flag`` or ARGUMENT)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ValueError(f"unknown {cls.__name__} key {key!r}.{suggest(key, fields)} Known keys: {sorted(fields)}")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]  # fmt: skip
    missing = [k for k in required if data.get(k) is None]
    if missing:
        raise ValueError(f"{cls.__name__} is missing {', '.join(map(shown, missing))}: give "
                         f"{'it' if len(missing) == 1 else 'them'} on the command line or as {missing[0]!r} in "
                         "the --config YAML")  # fmt: skip
    try:
        return cls(**{k: _coerce(v, hints[k], k) for k, v in data.items()})
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; a malformed file is refused with its name and the parser's line."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


def load_config(
    cls: type[C], path: str | Path | None = None, *, shown: Callable[[str], str] = str, **overrides: Any
) -> C:
    """A config from an optional YAML file, then overrides (``None`` means 'not given'); ``shown`` as
    :func:`from_dict`."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path)
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of {cls.__name__} keys, got {type(loaded).__name__}")
        data.update(loaded or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data, shown=shown)


def save_config(config: Any, path: str | Path) -> Path:
    """Write a config dataclass as YAML (tuples as lists), so the run can be repeated."""
    path = Path(path)
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
