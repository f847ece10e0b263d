"""Finding what to validate: our own built-in steps, or a user's project.

Built-in (``smsim validate`` without PATH): the specs of
``specs.registry.default_registry()``, the contracts of
``specs.registry.default_contracts()`` and the scripts in ``dockers/pytorch_bsm/`` and
``dockers/xgboost_bsm/``.

A user's project (``smsim validate PATH``) is laid out like ours::

    PATH/contracts/*.py     modules defining ScriptContract objects
    PATH/specs/*.py         modules defining StepSpecification objects
    PATH/dockers/*/ ...     the scripts (or PATH/scripts/, PATH/src/, PATH/)

Every ``*.py`` in ``PATH/contracts`` and ``PATH/specs`` (except ``__init__``,
``base`` and ``registry``: those names are smsim's own modules, and a user's
non-empty ``base.py``/``registry.py`` is reported as not loaded) is imported as
a module of smsim's own ``contracts`` / ``specs`` package, with the user's
folder searched first — so the user's
``from contracts.my_train import MY_CONTRACT`` and smsim's
``from contracts.base import TrainingScriptContract`` both work as in our
project — and ``PATH`` is on ``sys.path`` during the import. Every
module-level ``ScriptContract`` and ``StepSpecification`` is collected (whatever
its name); a second spec with the same step type is an error, as in the
registry. Afterwards ``sys.modules``, ``sys.path`` and the packages' search
paths are restored.

A Training spec's metric definitions (``[{"Name", "Regex"}]``, as in a
CreateTrainingJob request) are its training contract's ``metric_definitions``;
level 4 then checks ``FinalMetricDataList['m']`` look-ups against them and each
regex against the ``key=value`` lines the script builds. For projects written
before contracts carried them, a module-level ``METRIC_DEFINITIONS`` still gives
them to the Training specs the module defines (and wins over the contract's).

A spec is constructed with its property-path check deferred, so that an
invalid path is reported by level 4 with the others instead of aborting the
import of its module. A script is found by its contract's ``entry_point`` in
the ``--scripts`` directory when given, else in ``PATH/dockers/*/``,
``PATH/scripts/``, ``PATH/src/`` and ``PATH``, in that order.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pydantic

import contracts
import specs
from contracts.base import ScriptContract
from simulator.alignment.report import Finding, error, warning
from simulator.alignment.script_facts import display_path
from simulator.errors import SmsimError
from simulator.requests import DEFAULT_SOURCE_DIR
from specs.base import TRAINING_STEP_TYPES, StepSpecification

# Our own scripts: the source dir our jobs ship.
BUILTIN_SCRIPTS_DIR = DEFAULT_SOURCE_DIR
BUILTIN_SCRIPT_DIRS = (BUILTIN_SCRIPTS_DIR, BUILTIN_SCRIPTS_DIR.parent / "xgboost_bsm")
_SKIPPED_MODULES = {"__init__", "base", "registry"}
_KEEP_MODULES = {"contracts", "contracts.base", "specs", "specs.base", "specs.registry"}


class ProjectError(SmsimError):
    """The project cannot be read at all (no such directory, no contracts/ or specs/)."""


@dataclass
class Project:
    """Specs, contracts and where their scripts are."""

    name: str
    specs: list[StepSpecification] = field(default_factory=list)
    contracts: list[ScriptContract] = field(default_factory=list)
    script_dirs: list[Path] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    # A Training step's MetricDefinitions ([{"Name", "Regex"}]) by step type, when known.
    metric_definitions: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def find_script(self, contract: ScriptContract) -> tuple[Path | None, list[Path]]:
        """The entry point's file (first match) and every match, in search order."""
        matches = []
        for directory in self.script_dirs:
            candidate = directory / contract.entry_point
            if candidate.is_file():
                matches.append(candidate)
        return (matches[0] if matches else None), matches


def builtin_project(scripts_dir: Path | None = None) -> Project:
    """Our own steps: the default registry, its contracts and dockers/{pytorch,xgboost}_bsm."""
    from specs.registry import default_contracts, default_registry

    project = Project(name="smsim built-in steps")
    project.specs = default_registry().specs()
    project.contracts = list(default_contracts().values())
    for spec in project.specs:
        contract = spec.script_contract
        if contract is not None and not any(contract == c for c in project.contracts):
            project.contracts.append(contract)
    project.script_dirs = [scripts_dir] if scripts_dir else list(BUILTIN_SCRIPT_DIRS)
    for spec in project.specs:
        _contract_metrics(project, spec)
    return project


def _contract_metrics(project: Project, spec: StepSpecification) -> None:
    """A Training spec's metric definitions: its contract's, when it declares any."""
    metrics = getattr(spec.script_contract, "metric_definitions", None)
    if spec.sagemaker_step_type in TRAINING_STEP_TYPES and metrics:
        project.metric_definitions.setdefault(spec.step_type, list(metrics))


def load_project(root: Path | str, scripts_dir: Path | None = None) -> Project:
    """Discover and import a user's project at ``root`` (see the module doc)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ProjectError(
            f"{root}: not a directory; pass the folder holding contracts/ and specs/"
        )
    contract_dir, spec_dir = root / "contracts", root / "specs"
    if not contract_dir.is_dir() and not spec_dir.is_dir():
        raise ProjectError(
            f"{root}: neither contracts/ nor specs/ found; smsim validate PATH expects a project "
            "laid out like smsim's (PATH/contracts/*.py, PATH/specs/*.py, PATH/dockers/*/)"
        )
    project = Project(name=str(root))
    with _user_packages(root), _deferred_property_checks():
        for package, directory in (("contracts", contract_dir), ("specs", spec_dir)):
            for path in sorted(directory.glob("*.py")) if directory.is_dir() else []:
                if path.stem not in _SKIPPED_MODULES:
                    _collect(project, package, path)
                elif f"{package}.{path.stem}" in _KEEP_MODULES and path.stat().st_size:
                    project.problems.append(_shadowed(package, path))
    for spec in project.specs:  # a module's METRIC_DEFINITIONS first, else the contract's
        _contract_metrics(project, spec)
    if scripts_dir is not None:
        project.script_dirs = [Path(scripts_dir)]
    else:
        dockers = root / "dockers"
        subdirs = sorted(p for p in dockers.iterdir() if p.is_dir()) if dockers.is_dir() else []
        project.script_dirs = [*subdirs, root / "scripts", root / "src", root]
    return project


def _collect(project: Project, package: str, path: Path) -> None:
    name = f"{package}.{path.stem}"
    try:
        module = importlib.import_module(name)
    # SystemExit too: a module that calls sys.exit() or argparse at import must not end
    # the whole validate run.
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any error in user code is a finding
        project.problems.append(
            error(
                0,
                name,
                "project.import",
                f"importing {path.name} failed: {_describe_exception(exc)}",
                "correct what the message names at that line; the module must import "
                "before its specs and contracts can be checked",
                location=_user_frame(exc, path),
            )
        )
        return
    metric_definitions = getattr(module, "METRIC_DEFINITIONS", None)
    for value in vars(module).values():
        if isinstance(value, StepSpecification):
            _add_spec(project, value, path)
            if (
                isinstance(metric_definitions, list)
                and value.sagemaker_step_type in TRAINING_STEP_TYPES
            ):
                project.metric_definitions[value.step_type] = metric_definitions
        elif isinstance(value, ScriptContract) and not any(value == c for c in project.contracts):
            project.contracts.append(value)
    for spec in project.specs:
        _contract_metrics(project, spec)
        contract = spec.script_contract
        if contract is not None and not any(contract == c for c in project.contracts):
            project.contracts.append(contract)


def _add_spec(project: Project, spec: StepSpecification, path: Path) -> None:
    for known in project.specs:
        if known is spec:
            return  # imported by another module too
        if known.step_type == spec.step_type:
            if known == spec:
                return
            project.problems.append(
                error(
                    0,
                    spec.step_type,
                    "project.duplicate_step_type",
                    f"two different specs have step type {spec.step_type!r} (the second in "
                    f"{path.name}); a registry refuses the second",
                    "give one of them another step_type",
                    location=display_path(path),
                )
            )
            return
    project.specs.append(spec)


def _shadowed(package: str, path: Path) -> Finding:
    # `from contracts.base import …` must reach smsim's models, so a user module of
    # that name is never imported: say so rather than skip its contents silently.
    return warning(
        0,
        f"{package}.{path.stem}",
        "project.shadowed_module",
        f"{display_path(path)} is not loaded: {package}.{path.stem} is smsim's own module "
        "(the models your contracts and specs import)",
        f"move what it defines into another module of {package}/ (e.g. {package}/common.py)",
        location=display_path(path),
    )


def _describe_exception(exc: BaseException) -> str:
    """The exception in a line or two: pydantic's rule messages without its boilerplate."""
    if isinstance(exc, pydantic.ValidationError):
        rules = "; ".join(
            ".".join(map(str, e["loc"]))
            + (": " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        return f"invalid {exc.title}: {rules}"
    return f"{type(exc).__name__}: {exc}"


def _user_frame(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    shown = display_path(path)
    return f"{shown}:{frames[-1].lineno}" if frames else shown


@contextmanager
def _user_packages(root: Path) -> Iterator[None]:
    saved_modules = {
        k: v for k, v in sys.modules.items() if k.split(".")[0] in ("contracts", "specs")
    }
    saved_paths = {pkg: list(pkg.__path__) for pkg in (contracts, specs)}
    # Importing a submodule also sets it as an attribute of its package: restore those too.
    saved_attrs = {pkg: dict(vars(pkg)) for pkg in (contracts, specs)}
    saved_sys_path = list(sys.path)
    for key in saved_modules:
        if key not in _KEEP_MODULES:
            del sys.modules[key]
    for pkg in (contracts, specs):
        user_dir = root / pkg.__name__
        if user_dir.is_dir():
            pkg.__path__[:0] = [str(user_dir)]
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path[:] = saved_sys_path
        for pkg, paths in saved_paths.items():
            pkg.__path__[:] = paths
        for key in [k for k in sys.modules if k.split(".")[0] in ("contracts", "specs")]:
            if key not in saved_modules:
                del sys.modules[key]
        sys.modules.update(saved_modules)
        for pkg, attrs in saved_attrs.items():
            for key in [k for k in vars(pkg) if k not in attrs]:
                delattr(pkg, key)
            for key, value in attrs.items():
                setattr(pkg, key, value)
        importlib.invalidate_caches()


@contextmanager
def _deferred_property_checks() -> Iterator[None]:
    # Level 4 checks every property path and reports them all; without this the
    # first invalid path would abort its module's import and hide the rest.
    original = vars(StepSpecification).get("_check_property_paths")
    if original is None:  # the spec model changed: construct specs with their own checks
        yield
        return
    StepSpecification._check_property_paths = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        StepSpecification._check_property_paths = original  # type: ignore[method-assign]
