"""SpecRegistry and the built-in registries."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

import contracts
import specs
from contracts.base import ScriptContract
from specs.base import DependencyType, OutputSpec, StepSpecification
from specs.pytorch_training import PYTORCH_TRAINING_SPEC
from specs.registry import SpecRegistry, default_contracts, default_registry


def test_register_get_list() -> None:
    registry = SpecRegistry()
    assert registry.list() == [] and len(registry) == 0
    registry.register(PYTORCH_TRAINING_SPEC)
    assert registry.list() == ["PyTorchTraining"]
    assert "PyTorchTraining" in registry
    assert registry.get("PyTorchTraining") is PYTORCH_TRAINING_SPEC
    assert list(registry) == [PYTORCH_TRAINING_SPEC]


def test_second_registration_of_a_step_type_is_refused() -> None:
    registry = SpecRegistry()
    registry.register(PYTORCH_TRAINING_SPEC)
    with pytest.raises(ValueError, match="'PyTorchTraining' is already registered"):
        registry.register(PYTORCH_TRAINING_SPEC.model_copy())
    assert len(registry) == 1


def test_unknown_step_type_names_the_registered_ones() -> None:
    registry = SpecRegistry()
    registry.register(PYTORCH_TRAINING_SPEC)
    with pytest.raises(KeyError, match="registered: PyTorchTraining"):
        registry.get("XGBoostTraining")


def test_only_specs_can_be_registered() -> None:
    with pytest.raises(TypeError):
        SpecRegistry().register({"step_type": "X"})  # type: ignore[arg-type]


def test_default_registry_holds_one_spec_per_builtin_module() -> None:
    registry = default_registry()
    assert "PyTorchTraining" in registry
    assert len(registry) == len(specs.BUILTIN_SPEC_MODULES)
    assert all(isinstance(s, StepSpecification) for s in registry)
    # A fresh registry each call: callers may register their own specs into it.
    assert default_registry() is not registry


def test_every_builtin_spec_has_valid_property_paths_by_construction() -> None:
    # Construction already checks the paths; the registry holding them is the proof.
    for spec in default_registry():
        assert all(out.property_path.startswith("properties.") for out in spec.outputs.values())


BUILTIN_STEP_TYPES = default_registry().list()
# A property path that exists for another step type but not for the spec's own.
_FOREIGN_PATH = {
    "Processing": "properties.ModelArtifacts.S3ModelArtifacts",
    "Training": "properties.ProcessingJobName",
    "Model": "properties.TrainingJobName",
    "RegisterModel": "properties.TrainingJobName",
    "Transform": "properties.ModelArtifacts.S3ModelArtifacts",
    # A tuning job has no model of its own: its best training job has.
    "Tuning": "properties.ModelArtifacts.S3ModelArtifacts",
}


@pytest.mark.parametrize("step_type", BUILTIN_STEP_TYPES)
def test_every_builtin_spec_is_aligned_with_its_contract(step_type: str) -> None:
    spec = default_registry().get(step_type)
    assert spec.step_type == step_type
    result = spec.validate_contract_alignment()
    assert result.is_valid, result.errors
    assert result.errors == [] and result.warnings == []


@pytest.mark.parametrize("step_type", BUILTIN_STEP_TYPES)
def test_every_builtin_spec_refuses_another_step_types_property_path(step_type: str) -> None:
    spec = default_registry().get(step_type)
    path = _FOREIGN_PATH[spec.sagemaker_step_type.value]
    name = next(iter(spec.outputs))
    data = spec.model_dump()
    data["outputs"] = {
        name: OutputSpec(
            logical_name=name, output_type=DependencyType.CUSTOM_PROPERTY, property_path=path
        )
    }
    data["script_contract"] = spec.script_contract
    with pytest.raises(PydanticValidationError, match=path.rsplit(".", 1)[-1]):
        StepSpecification(**data)


def test_default_contracts_hold_one_contract_per_builtin_module() -> None:
    found = default_contracts()
    assert len(found) == len(contracts.BUILTIN_CONTRACT_MODULES)
    assert all(isinstance(c, ScriptContract) for c in found.values())
    assert "train.py" in found


def test_a_builtin_module_without_a_spec_constant_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(specs, "BUILTIN_SPEC_MODULES", ("registry",))
    with pytest.raises(ValueError, match="specs.registry defines no StepSpecification constant"):
        default_registry()
