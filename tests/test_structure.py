"""The package's shape: layers that import only downward, a light root, small functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bff"

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    (  # vocabulary: plain values and words every layer shares
        "bff.exceptions", "bff.vocabulary", "bff.providers._types", "bff.routes",
        "bff.tokens", "bff.run", "bff.faults", "bff.clients",
    ),
    (  # pure core: parsing, checks, budgets, limits, resilience, observation
        "bff.sanitize", "bff.streaming", "bff.budget", "bff.resilience", "bff.disclosure",
        "bff.tools", "bff.tasks", "bff.task_io", "bff.reask", "bff.rate_storage",
        "bff.ratelimit", "bff.observe", "bff.providers.base", "bff.providers._sse",
        "bff.providers._strict_schema", "bff.providers._retry_after", "bff.providers._network",
        "bff.streams", "bff.context", "bff.grounding", "bff.pii",
    ),
    ("bff.shared",),  # state the replicas share on Redis, over the core's local twins
    ("bff.config",),
    (  # the engine and the providers it calls
        "bff.structured", "bff.attempts", "bff.pipeline", "bff.chat", "bff.retrieval",
        "bff.providers.openai", "bff.providers.demo",
    ),
    ("bff.demo",),  # the sample app: reference tasks and the offline model's heuristics
    ("bff.providers.registry",),  # gives the demo provider the demo model's answers
    ("bff.api", "bff.server"),  # the HTTP edge
    ("bff.evals",),  # golden datasets run through the pipeline and the provider registry
    ("bff.app", "bff.cli", "bff.testing", "bff"),  # entry points and test support
]  # fmt: skip
SAMPLE_APP_USERS = ("bff.demo", "bff.providers.registry", "bff.app", "bff.cli", "bff.testing")
MAX_FUNCTION_LINES = 50


def _layer(module: str) -> int:
    """The layer of ``module``: its longest matching prefix decides."""
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{module} is in no layer: add it to LAYERS"
    return found


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every ``bff`` module a tree imports, at any depth (function-level imports too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # ``from bff import run`` imports bff.run; ``from bff.run import X``, bff.run
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "bff" or name.startswith("bff."):
                yield node.lineno, name


def _known(name: str) -> str:
    """``name`` cut back to a module that exists (``bff.run.Completed`` -> ``bff.run``)."""
    parts = name.split(".")
    while len(parts) > 1:
        path = PACKAGE.parent.joinpath(*parts)
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            break
        parts.pop()
    return ".".join(parts)


def test_every_import_points_down_or_sideways() -> None:
    upward = []
    for module, tree in _modules():
        own = _layer(module)
        for line, name in _imports(tree):
            target = _known(name)
            if _layer(target) > own:
                upward.append(f"{module}:{line} imports {target}")
    assert upward == []


def test_only_the_wiring_knows_the_sample_app() -> None:
    users = {
        f"{module}:{line}"
        for module, tree in _modules()
        for line, name in _imports(tree)
        if _known(name).startswith("bff.demo") and not module.startswith(SAMPLE_APP_USERS)
    }
    assert users == set()


def test_the_simulator_is_imported_only_to_run_it() -> None:
    importers = {
        module
        for module, tree in _modules()
        for _, name in _imports(tree)
        if _known(name) == "bff.testing.simulator"
    }
    assert importers == {"bff.cli", "bff.testing.server"}


def test_no_function_is_longer_than_a_screen() -> None:
    long = [
        f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for module, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_importing_the_package_loads_no_web_framework() -> None:
    code = "import sys, bff; print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .split(",")
    )
    heavy = {"strawberry", "starlette", "uvicorn", "openai", "httpx2", "prometheus_client"}
    assert heavy.isdisjoint(loaded), heavy & set(loaded)
    assert "pydantic_settings" not in loaded  # Settings loads on first use
