"""Registries of step specifications and script contracts.

The built-ins are found by module name (``specs.BUILTIN_SPEC_MODULES``,
``contracts.BUILTIN_CONTRACT_MODULES``): each module exposes its spec as a
module-level constant ending in ``_SPEC`` (its contract, ``_CONTRACT``), so
adding a step is adding a module and its name, nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import contracts
import specs
from contracts.base import ScriptContract
from specs.base import StepSpecification

__all__ = ["SpecRegistry", "default_contracts", "default_registry"]


class SpecRegistry:
    """Step specifications by step type; a step type is registered once."""

    def __init__(self) -> None:
        self._specs: dict[str, StepSpecification] = {}

    def register(self, spec: StepSpecification) -> None:
        """Add ``spec``; raises ValueError when its step type is already registered."""
        if not isinstance(spec, StepSpecification):
            raise TypeError(f"expected a StepSpecification, got {type(spec).__name__}")
        if spec.step_type in self._specs:
            raise ValueError(
                f"step type {spec.step_type!r} is already registered; give the new spec "
                "another step_type or use a new SpecRegistry"
            )
        self._specs[spec.step_type] = spec

    def get(self, step_type: str) -> StepSpecification:
        """The spec of ``step_type``; raises KeyError naming the registered ones."""
        try:
            return self._specs[step_type]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise KeyError(f"no spec for step type {step_type!r}; registered: {known}") from None

    def list(self) -> list[str]:
        """Registered step types, sorted."""
        return sorted(self._specs)

    def specs(self) -> list[StepSpecification]:
        """Registered specs, sorted by step type."""
        return [self._specs[k] for k in self.list()]

    def __contains__(self, step_type: object) -> bool:
        return step_type in self._specs

    def __iter__(self) -> Iterator[StepSpecification]:
        return iter(self.specs())

    def __len__(self) -> int:
        return len(self._specs)


def _constants(package: str, module_names: tuple[str, ...], suffix: str, kind: type) -> list:
    found = []
    for module_name in module_names:
        module = importlib.import_module(f"{package}.{module_name}")
        values = [
            value
            for name, value in vars(module).items()
            if name.endswith(suffix) and name.isupper() and isinstance(value, kind)
        ]
        if not values:
            raise ValueError(
                f"{package}.{module_name} defines no {kind.__name__} constant ending in "
                f"{suffix!r}; add one or remove {module_name!r} from the built-in list"
            )
        found += values
    return found


def default_registry() -> SpecRegistry:
    """A registry holding every built-in spec (``specs.BUILTIN_SPEC_MODULES``)."""
    registry = SpecRegistry()
    for spec in _constants("specs", specs.BUILTIN_SPEC_MODULES, "_SPEC", StepSpecification):
        registry.register(spec)
    return registry


def default_contracts() -> dict[str, ScriptContract]:
    """Every built-in contract (``contracts.BUILTIN_CONTRACT_MODULES``) by entry point."""
    out: dict[str, ScriptContract] = {}
    for module_name in contracts.BUILTIN_CONTRACT_MODULES:
        for contract in _constants("contracts", (module_name,), "_CONTRACT", ScriptContract):
            if contract.entry_point in out:
                raise ValueError(f"two built-in contracts for entry point {contract.entry_point!r}")
            out[contract.entry_point] = contract
    return out
