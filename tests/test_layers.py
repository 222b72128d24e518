"""Data flows one way: inference and the service never import training code, at any depth."""

import ast
from pathlib import Path

import rostro

ROOT = Path(rostro.__file__).parent
INFERENCE = ["rostro.inference.predict", "rostro.inference.embed", "rostro.inference.explain", "rostro.serve.app",
             "rostro.faces.embedding", "rostro.faces.network", "rostro.runs", "rostro.models.fusion"]  # fmt: skip


def _file(module: str) -> Path | None:
    parts = module.split(".")[1:]
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """Every rostro module ``module`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(_file(module).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rostro"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if _file(f"{node.module}.{a.name}"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rostro"))
    return {m for m in found if m != "rostro" and _file(m)}


def test_inference_and_the_service_never_reach_training():
    seen, todo, path_to = set(), list(INFERENCE), {m: [m] for m in INFERENCE}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for dep in _imports(module):
            path_to.setdefault(dep, [*path_to[module], dep])
            todo.append(dep)
    reached = sorted(m for m in seen if m.startswith(("rostro.training", "rostro.commands")))
    assert not reached, [" -> ".join(path_to[m]) for m in reached]
    assert {"rostro.faces.dlib_resnet", "rostro.files", "rostro.distributed"} <= seen  # the walk follows imports
