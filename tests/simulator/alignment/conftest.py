"""A copy of our project (contracts, specs, both dockers) for the mutation tests.

* ``pristine``: the untouched copy (one a module); ``baseline``: its findings, keyed (a
  set), with what a mutated copy adds to them (``baseline.added(root)``,
  ``baseline.errors_added(root, level)``, ``baseline.the_error(root, level)``) and
  ``baseline.only_errors_at(findings, level)``;
* ``copy``: a fresh copy of it for one test to break;
* ``mutate``: the mutations: ``replace(path, old, new, count=-1)`` in a file's text, and
  redefinitions appended to a spec module as a user would write them (``drop_output``,
  ``set_property_path``), which reach the module's spec object however the module built
  it (our training specs share a builder).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simulator.alignment import load_project, validate_project
from simulator.alignment.report import Finding, Severity

REPO = Path(__file__).resolve().parents[3]
_SKIP = {"__init__.py", "base.py", "registry.py"}


def _key(f: Finding, root: Path) -> tuple:
    # Messages may name the project folder (e.g. where a script was searched).
    return (f.level, f.rule, f.step, f.message.replace(str(root.resolve()), "<root>"))


class Baseline(set):
    """The untouched copy's findings, keyed; what a mutation adds to them."""

    def added(self, root: Path) -> list[Finding]:
        report = validate_project(load_project(root))
        return [f for f in report.findings if _key(f, root) not in self]

    @staticmethod
    def only_errors_at(findings: list[Finding], level: int, warnings_too: bool = False) -> None:
        assert any(f.severity is Severity.ERROR for f in findings), "the mutation was not caught"
        allowed = {(level, Severity.ERROR)} | (
            {(level, Severity.WARNING)} if warnings_too else set()
        )
        assert {(f.level, f.severity) for f in findings} <= allowed, findings

    def errors_added(self, root: Path, level: int) -> list[Finding]:
        """What a mutation adds, asserted to be errors of ``level`` only."""
        added = self.added(root)
        self.only_errors_at(added, level)
        return added

    def the_error(self, root: Path, level: int) -> Finding:
        """The one finding a mutation adds: an error of ``level``."""
        added = self.added(root)
        self.only_errors_at(added, level)
        [f] = added
        return f


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ours")
    for package in ("contracts", "specs"):
        (root / package).mkdir()
        for path in (REPO / package).glob("*.py"):
            if path.name not in _SKIP:
                shutil.copy(path, root / package / path.name)
    for docker in ("pytorch_bsm", "xgboost_bsm"):
        shutil.copytree(
            REPO / "dockers" / docker,
            root / "dockers" / docker,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return root


@pytest.fixture(scope="module")
def baseline(pristine: Path) -> Baseline:
    return Baseline(_key(f, pristine) for f in validate_project(load_project(pristine)).findings)


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    return root


class Mutations:
    """Edits of a copy's files. A spec edit appends a redefinition of the module's spec,
    named after the module as ours are (specs/model_evaluation.py: MODEL_EVALUATION_SPEC)."""

    @staticmethod
    def replace(path: Path, old: str, new: str, count: int = -1) -> None:
        text = path.read_text()
        assert old in text, f"{path.name} no longer contains {old!r}: update the mutation"
        path.write_text(text.replace(old, new, count))

    @staticmethod
    def drop_output(module: Path, output: str) -> None:
        variable = f"{module.stem.upper()}_SPEC"
        module.write_text(
            module.read_text() + f"\n{variable} = {variable}.model_copy(update={{'outputs': {{\n"
            f"    k: v for k, v in {variable}.outputs.items() if k != {output!r}}}}})\n"
        )

    @staticmethod
    def set_property_path(module: Path, output: str, path: str) -> None:
        variable = f"{module.stem.upper()}_SPEC"
        module.write_text(
            module.read_text() + f"\n{variable} = {variable}.model_copy(update={{'outputs': {{\n"
            f"    **{variable}.outputs,\n"
            f"    {output!r}: {variable}.outputs[{output!r}].model_copy(\n"
            f"        update={{'property_path': {path!r}}})}}}})\n"
        )


@pytest.fixture(scope="session")
def mutate() -> Mutations:
    return Mutations()
