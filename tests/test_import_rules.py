"""The house's import rules, read from the source: domains import only those beneath them,
nothing in services/ reaches for the web tier, the web tier's layers point one way (app/ ->
callbacks/ -> components/), the simulator stays out of production code, and no module imports
itself in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "callbacks", "components", "services")

# Which domains each domain of services/ may import (itself always).
DOMAIN_MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "storage": frozenset({"core"}),
    "ingest": frozenset({"core"}),
    "detection": frozenset({"core", "storage"}),
    "access": frozenset({"core", "storage"}),
    "agent": frozenset({"core", "storage", "ingest"}),
    "alerts": frozenset({"core", "storage"}),
    "live": frozenset({"core", "storage", "ingest", "detection", "agent", "alerts"}),
    "simulation": frozenset({"core"}),
}
WEB_LIBRARIES = ("dash", "flask", "flask_sock", "werkzeug", "plotly")
# The only production module that may start the simulator: the CLI's demo and simulate.
SIMULATION_USERS = frozenset({"app.cli"})


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = project_modules()


def imports_of(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth of its code (absolute imports only)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}"


def domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 2 else None


def test_every_services_module_lives_in_a_domain() -> None:
    loose = [m for m in MODULES if m.startswith("services.") and domain(m) is None]
    assert loose == [] or all(m.count(".") == 1 and m[9:] in DOMAIN_MAY_IMPORT for m in loose)
    for name in DOMAIN_MAY_IMPORT:
        assert (ROOT / "services" / name / "__init__.py").read_text().strip(), name


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("services")))
def test_services_import_no_web_tier_and_only_their_own_layers(module: str) -> None:
    own = domain(module)
    for imported in imports_of(MODULES[module]):
        top = imported.split(".")[0]
        assert top not in WEB_LIBRARIES, f"{module} imports {imported}"
        assert top not in ("app", "callbacks", "components"), f"{module} imports {imported}"
        other = domain(imported)
        if own is None or other is None or other == own:
            continue
        assert other in DOMAIN_MAY_IMPORT[own], f"{module} ({own}) imports {imported} ({other})"


# What each layer of the web tier must never import: app/ wires callbacks/ (which take their
# dependencies and the principal as arguments), and components/ only lays out data.
WEB_LAYER_MAY_NOT_IMPORT: dict[str, tuple[str, ...]] = {
    "callbacks": ("app",),
    "components": ("app", "callbacks"),
}
# The pages callbacks render share with them only the boundary (dependencies, principal).
PAGES = "callbacks.pages"
PAGES_MAY_IMPORT_OF_CALLBACKS = ("callbacks.boundary", PAGES)


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.split(".")[0] in WEB_LAYER_MAY_NOT_IMPORT)
)
def test_the_web_tiers_layers_import_downwards_only(module: str) -> None:
    refused = WEB_LAYER_MAY_NOT_IMPORT[module.split(".")[0]]
    for imported in imports_of(MODULES[module]):
        assert imported.split(".")[0] not in refused, f"{module} imports {imported}"
        if module.startswith(PAGES) and imported.startswith("callbacks"):
            allowed = imported.startswith(PAGES_MAY_IMPORT_OF_CALLBACKS)
            assert allowed, f"{module} imports {imported}"


def test_only_the_cli_tests_and_benches_import_the_simulation() -> None:
    users = {
        module
        for module, path in MODULES.items()
        if domain(module) != "simulation"
        and any(domain(i) == "simulation" for i in imports_of(path))
    }
    assert users <= SIMULATION_USERS


def test_no_import_circles() -> None:
    graph = {
        module: {i for i in imports_of(path) if i in MODULES and i != module}
        for module, path in MODULES.items()
    }
    # Packages' __init__ are imported on the way to any of their modules: not an edge of ours.
    done: set[str] = set()
    stack: list[str] = []

    def visit(module: str) -> None:
        if module in stack:
            circle = [*stack[stack.index(module) :], module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        stack.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        stack.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
