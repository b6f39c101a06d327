"""The layout stays true: layers import only downward, and no modules import each other in
a circle. Read from the code's own imports with ast, every import counted (also those
inside functions and under TYPE_CHECKING: a lazy or typing-only import is still a
dependency).

Each module belongs to a layer: the longest name in LAYERS that is its own name or a
package above it. A module may import its own layer and any lower layer (a smaller
number); two different layers of the same number may not import each other.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("firmware_bridge", "cloud_sync", "edge")

LAYERS: dict[str, int] = {
    # the devices: nothing from edge or cloud_sync
    "firmware_bridge.errors": 0,
    "firmware_bridge": 0,
    "firmware_bridge.ble": 1,
    "firmware_bridge.sms": 1,
    "firmware_bridge.panel": 1,
    "firmware_bridge.modem": 2,
    "firmware_bridge.simulators": 3,
    # what hub and server agree on, then the two sides of the wire (not each other)
    "cloud_sync": 10,
    "cloud_sync.contract": 10,
    "cloud_sync.uplink": 11,
    "cloud_sync.server": 11,
    # the hub, from its vocabulary up to its tools
    "edge": 20,
    "edge.errors": 20,
    "edge.clock": 20,
    "edge.domain": 20,
    "edge.kernel_events": 20,
    "edge.wakeup": 21,
    "edge.storage": 21,
    "edge.alerts": 22,
    "edge.calls": 22,
    "edge.sms": 23,
    "edge.config": 24,
    "edge.uplink": 25,
    "edge.supervision": 26,
    "edge.panel": 26,
    "edge.app": 27,
    "edge.simulated": 28,
    "edge.tools": 29,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = all_modules()


def imported(name: str, path: Path) -> Iterator[str]:
    """Every project module that `name` imports, wherever in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(package + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in PACKAGES:
                yield target


GRAPH = {name: sorted(set(imported(name, path)) - {name}) for name, path in MODULES.items()}


def layer_of(name: str) -> str:
    candidates = [layer for layer in LAYERS if name == layer or name.startswith(layer + ".")]
    if not candidates:
        raise AssertionError(f"{name} is in no layer; add its package to LAYERS")
    return max(candidates, key=len)


TOP = ("edge", "cloud_sync", "firmware_bridge")
# The hub's vocabulary at edge/'s root, which every layer of the hub may use, and what
# edge/__init__.py says it stands on.
VOCABULARY = ("edge.domain", "edge.clock", "edge.errors")
VOCABULARY_MAY_IMPORT = ("edge", *VOCABULARY, "cloud_sync.contract", "cloud_sync.uplink.errors",
                         "firmware_bridge.errors", "firmware_bridge.ble.addresses")


def test_every_module_is_in_a_layer_of_its_own_package() -> None:
    loose = [name for name in MODULES if layer_of(name) in TOP and name not in TOP]
    assert not loose, f"modules in no subpackage's layer (add them to LAYERS): {loose}"


def test_package_init_files_import_nothing() -> None:
    """Importing a.b.c runs a/__init__ and a/b/__init__: they stay free of imports, so the
    graph below needs no edges to them and no cycle can hide there."""
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            assert not GRAPH[name], f"{name}/__init__.py imports {GRAPH[name]}"


def test_layers_import_only_downward() -> None:
    upward = []
    for name, targets in GRAPH.items():
        mine = layer_of(name)
        for target in targets:
            theirs = layer_of(target)
            if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                upward.append(f"{name} ({mine}, layer {LAYERS[mine]}) imports {target} "
                              f"({theirs}, layer {LAYERS[theirs]})")
    assert not upward, "imports that do not go down:\n" + "\n".join(upward)


def test_firmware_bridge_imports_nothing_of_the_hub_or_the_server() -> None:
    wrong = [f"{name} imports {target}" for name, targets in GRAPH.items()
             if name.startswith("firmware_bridge") for target in targets
             if not target.startswith("firmware_bridge")]
    assert not wrong, "\n".join(wrong)


def test_the_server_imports_only_the_contract() -> None:
    wrong = [f"{name} imports {target}" for name, targets in GRAPH.items()
             if name.startswith("cloud_sync.server") for target in targets
             if not target.startswith(("cloud_sync.server", "cloud_sync.contract"))]
    assert not wrong, "\n".join(wrong)


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, []):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    cycles = [group for group in strongly_connected(GRAPH) if len(group) > 1]
    assert not cycles, "modules that import each other in a circle: " + "; ".join(
        " <-> ".join(group) for group in cycles)


def test_the_checks_see_an_upward_import_and_a_cycle() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert [group for group in strongly_connected(graph) if len(group) > 1] == [["a", "b", "c"]]
    assert layer_of("firmware_bridge.sms.pdu") == "firmware_bridge.sms"
    assert layer_of("edge.storage.store") == "edge.storage"
    assert "edge.storage.store" in GRAPH["edge.alerts.hub"]  # a real import is read


def test_no_module_is_over_400_lines() -> None:
    long = [f"{name}: {len(path.read_text(encoding='utf-8').splitlines())} lines"
            for name, path in MODULES.items()
            if len(path.read_text(encoding="utf-8").splitlines()) > 400]
    assert not long, "\n".join(long)


def may_import(doc: str) -> tuple[set[str], bool]:
    """The layers a package docstring's "May import:" paragraph names ("edge.domain/clock"
    is edge.domain and edge.clock), and whether it allows any lower layer."""
    paragraph = doc.split("May import:", 1)[1].split("\n\n", 1)[0]
    named: set[str] = set()
    for match in re.finditer(r"\b(?:edge|cloud_sync|firmware_bridge)(?:\.\w+)*(?:/\w+)*", paragraph):
        first, *others = match.group(0).split("/")
        named.add(first)
        named.update(first.rpartition(".")[0] + "." + other for other in others)
    return named, "any layer" in paragraph


def test_every_subpackage_says_what_it_owns_and_imports_only_what_it_says() -> None:
    for name, path in MODULES.items():
        if path.name != "__init__.py" or name in TOP:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert len(doc) > 80 and "May import:" in doc, \
            f"{name}: the docstring says what the package owns and, after 'May import:', what it may import"
        named, anything = may_import(doc)
        if anything:
            continue
        for module, targets in GRAPH.items():
            if module != name and not module.startswith(name + "."):
                continue
            for target in targets:
                if target.startswith(name + ".") or target in TOP or (
                        name.startswith("edge.") and target in VOCABULARY):
                    continue
                assert any(target == n or target.startswith(n + ".") for n in named), \
                    f"{module} imports {target}, which {name}'s docstring does not allow ({sorted(named)})"


def test_the_hubs_vocabulary_imports_only_what_edge_says() -> None:
    for name in VOCABULARY:
        for target in GRAPH[name]:
            assert any(target == a or target.startswith(a + ".") for a in VOCABULARY_MAY_IMPORT), \
                f"{name} imports {target}; edge/__init__.py says it stands on {VOCABULARY_MAY_IMPORT}"


def test_the_checks_see_what_a_docstring_does_not_allow() -> None:
    assert may_import("x\n\nMay import: edge.domain/clock/errors, firmware_bridge.sms.\n") == (
        {"edge.domain", "edge.clock", "edge.errors", "firmware_bridge.sms"}, False)
    assert may_import("May import: any layer below it.")[1]


HEAVY = ["gpiozero", "requests", "paho", "cloud_sync.server.receiver", "edge.tools.doctor",
         "edge.tools.pairing", "firmware_bridge.simulators", "edge.simulated.simulate",
         "edge.uplink.service", "edge.panel.driver",
         "importlib.metadata"]  # sqlite-utils' search for plugins (edge.storage.schema)
BUILD_THE_DEMO_HUB = """
import sys, tempfile
from edge.app import build_hub
from edge.config.loader import load_config
app = build_hub(load_config("config/demo.toml"), database=tempfile.mktemp(suffix=".db"))
app.close()
"""
BUILD_A_HUB_WITH_AN_UPLINK = BUILD_THE_DEMO_HUB.replace(
    'load_config("config/demo.toml")',
    'replace(load_config("config/demo.toml"), uplink=UplinkSection('
    'broker="mqtt://127.0.0.1:9", http_url="http://127.0.0.1:9"))').replace(
    "import sys, tempfile", "import sys, tempfile\nfrom dataclasses import replace\n"
    "from edge.config.uplink import UplinkSection")


@pytest.mark.parametrize("code, wanted", [
    ("import sys, edge.tools.cli", []),
    ("import sys, edge.app", []),
    (BUILD_THE_DEMO_HUB, []),  # a building without [uplink] or [panel]
    (BUILD_A_HUB_WITH_AN_UPLINK, ["paho", "edge.uplink.service"]),  # requests: at first use
])
def test_the_command_line_and_the_hub_load_only_what_they_use(code: str, wanted: list[str]) -> None:
    """Tools, the server, gpiozero, requests, paho and the simulators wait for the command,
    the configuration or the moment that uses them."""
    code += f"\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    assert loaded == wanted
