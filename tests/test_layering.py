"""The packages depend one way (issue 15): prime_common <- sandbox, benchmarks <- prime_eval <- prime_train.

Read from each module's syntax tree, not grepped: every ``import`` and ``from ... import`` (inside functions too,
relative ones resolved) and every ``"package.module:attr"`` string, which is how a registry imports lazily. A
known violation in a file another engineer owns goes into ``KNOWN`` as a strict xfail naming the owner, so the test
flips when it is fixed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("prime_common", "sandbox", "benchmarks", "prime_eval", "prime_train")
# What each layer may import of the project's other packages. benchmarks/perf measures prime_eval and the trainer,
# so it is their client, not part of the data layer.
ALLOWED = {
    "prime_common": set(),
    "sandbox": {"prime_common"},
    "benchmarks": {"prime_common"},
    "benchmarks.perf": set(PROJECT),
    "prime_eval": {"prime_common", "sandbox", "benchmarks"},
    "prime_train": {"prime_common", "sandbox", "benchmarks", "prime_eval"},
}
# (importing module, imported package): owner. Empty today; an entry is a strict xfail until its owner fixes it.
KNOWN: dict[tuple[str, str], str] = {}
_LAZY = re.compile(r"^([A-Za-z_]\w*(?:\.\w+)*):\w+$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, name: str, is_package: bool = False) -> set[str]:
    """The dotted names a module imports, ``name`` being its own (relative imports resolve against it)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.add(".".join([*base, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _LAZY.match(node.value):
            found.add(_LAZY.match(node.value).group(1))
    return found


def _modules() -> dict[str, set[str]]:
    out = {}
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[module_name(path)] = imports_of(path.read_text(), module_name(path), path.name == "__init__.py")
    return out


def _layer(module: str) -> str:
    return "benchmarks.perf" if module.startswith("benchmarks.perf") else module.split(".")[0]


def _violations() -> set[tuple[str, str]]:
    return {
        (module, target.split(".")[0])
        for module, targets in _modules().items()
        for target in targets
        if target.split(".")[0] in PROJECT
        and target.split(".")[0] != _layer(module)
        and target.split(".")[0] not in ALLOWED[_layer(module)]
    }


def test_no_import_goes_up_a_layer():
    unexpected = sorted(_violations() - set(KNOWN))
    assert not unexpected, "imports against the layering (module, package): " + ", ".join(map(str, unexpected))


@pytest.mark.parametrize(
    "pair", [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=f"owner: {v}")) for k, v in KNOWN.items()]
)
def test_known_violation_is_fixed(pair):
    assert pair not in _violations()


def test_deepspeed_is_imported_by_one_module():
    users = [m for m, targets in _modules().items() if any(t.split(".")[0] == "deepspeed" for t in targets)]
    assert len(users) == 1, users


def test_the_reader_sees_every_kind_of_import():
    """The scan must be able to fail: nested, relative and lazy (registry string) imports all count."""
    source = (
        "import os\n"
        "from . import sibling\n"
        "from ..verify.code import CodeVerifier\n"
        "def f():\n"
        "    from prime_train.trainer import Trainer\n"
        "TABLE = {'hf': 'prime_train.rollout:Engine', 'text': 'not a: module'}\n"
    )
    assert imports_of(source, "prime_eval.bon.generate") == {
        "os", "prime_eval.bon", "prime_eval.verify.code", "prime_train.trainer", "prime_train.rollout",
    }  # fmt: skip
    assert imports_of("from .registry import x\n", "benchmarks", is_package=True) == {"benchmarks.registry"}
