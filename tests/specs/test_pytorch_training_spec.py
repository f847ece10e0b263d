"""The PyTorch training step spec, and the StepSpecification rules it relies on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.base import ProcessingScriptContract, TrainingScriptContract
from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from simulator.properties import check_property_path
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)
from specs.pytorch_training import PYTORCH_TRAINING_SPEC
from specs.registry import SpecRegistry, default_registry

SPEC = PYTORCH_TRAINING_SPEC


# ------------------------------------------------ the ten behaviours of the seed's suite


def test_registration() -> None:
    registry = SpecRegistry()
    registry.register(SPEC)
    assert registry.get("PyTorchTraining") is SPEC
    assert default_registry().get("PyTorchTraining") == SPEC


def test_node_type_and_sagemaker_type() -> None:
    assert SPEC.step_type == "PyTorchTraining"
    assert SPEC.node_type is NodeType.INTERNAL
    assert SPEC.sagemaker_step_type is SageMakerStepType.TRAINING
    assert SPEC.script_contract is PYTORCH_TRAIN_CONTRACT


def test_required_dependencies() -> None:
    assert sorted(d.logical_name for d in SPEC.required_dependencies) == ["config", "input_path"]
    assert SPEC.optional_dependencies == []
    assert SPEC.get_dependency("input_path").dependency_type is DependencyType.TRAINING_DATA
    assert SPEC.get_dependency("config").dependency_type is DependencyType.HYPERPARAMETERS
    assert SPEC.get_dependency("nope") is None


def test_output_definitions() -> None:
    paths = {name: out.property_path for name, out in SPEC.outputs.items()}
    assert paths == {
        "model_output": "properties.ModelArtifacts.S3ModelArtifacts",
        "data_output": "properties.OutputDataConfig.S3OutputPath",
        "checkpoints": "properties.CheckpointConfig.S3Uri",
        "training_job_name": "properties.TrainingJobName",
        "metrics_output": "properties.FinalMetricDataList",
    }
    assert SPEC.outputs["model_output"].output_type is DependencyType.MODEL_ARTIFACTS
    for out in SPEC.outputs.values():
        assert check_property_path("Training", out.property_path).valid


def test_aliases() -> None:
    assert SPEC.outputs["model_output"].aliases == [
        "ModelArtifacts",
        "model_data",
        "output_path",
        "model_input",
    ]
    for name in ("model_data", "ModelArtifacts", "MODEL_INPUT", "model_output"):
        assert SPEC.get_output_by_name_or_alias(name) is SPEC.outputs["model_output"]
    assert SPEC.get_output_by_name_or_alias("TrainingJobName").logical_name == "training_job_name"
    assert SPEC.get_output_by_name_or_alias("TrainingMetrics").logical_name == "metrics_output"
    assert SPEC.get_output_by_name_or_alias("nothing") is None


def test_compatible_sources() -> None:
    assert "TabularPreprocessing" in SPEC.get_dependency("input_path").compatible_sources
    sources = SPEC.get_dependency("config").compatible_sources
    assert {"HyperparameterPrep", "ProcessingStep"} <= set(sources)


def test_semantic_keywords() -> None:
    assert set(SPEC.get_dependency("input_path").semantic_keywords) >= {
        "data", "input", "training", "dataset", "processed", "train", "pytorch",
    }  # fmt: skip
    assert set(SPEC.get_dependency("config").semantic_keywords) >= {
        "config", "params", "hyperparameters", "settings",
    }  # fmt: skip


def test_data_types() -> None:
    for name in ("model_output", "data_output", "checkpoints"):
        assert SPEC.outputs[name].data_type == "S3Uri"
    assert SPEC.outputs["training_job_name"].data_type == "String"
    for dep in SPEC.dependencies.values():
        assert dep.data_type == "S3Uri"


def test_general_validation_rebuilds_the_spec() -> None:
    # Every rule runs at construction; the spec round-trips through its own fields.
    fields = SPEC.model_dump(exclude={"script_contract"})
    rebuilt = StepSpecification(**fields, script_contract=SPEC.script_contract)
    assert rebuilt == SPEC


# ------------------------------------------------ a failing case for each rule


def _dep(name: str = "input_path") -> DependencySpec:
    return DependencySpec(logical_name=name, dependency_type=DependencyType.TRAINING_DATA)


MODEL = DependencyType.MODEL_ARTIFACTS


def _out(
    name: str = "model_output",
    path: str = "properties.ModelArtifacts.S3ModelArtifacts",
    aliases: list[str] | None = None,
    output_type: DependencyType = MODEL,
) -> OutputSpec:
    return OutputSpec(
        logical_name=name, aliases=aliases or [], output_type=output_type, property_path=path
    )


def _spec(**overrides: object) -> StepSpecification:
    fields: dict[str, object] = {
        "step_type": "T",
        "sagemaker_step_type": SageMakerStepType.TRAINING,
        "node_type": NodeType.INTERNAL,
        "dependencies": [_dep()],
        "outputs": [_out()],
    }
    fields.update(overrides)
    return StepSpecification(**fields)


@pytest.mark.parametrize(
    ("node_type", "deps", "outs", "fitting"),
    [
        (NodeType.SOURCE, [_dep()], [_out()], "INTERNAL"),
        (NodeType.INTERNAL, [], [_out()], "SOURCE"),
        (NodeType.INTERNAL, [_dep()], [], "SINK"),
        (NodeType.SINK, [_dep()], [_out()], "INTERNAL"),
        (NodeType.SINGULAR, [], [_out()], "SOURCE"),
        (NodeType.SOURCE, [], [], "SINGULAR"),
    ],
)
def test_node_type_constraints_are_enforced(node_type, deps, outs, fitting) -> None:
    with pytest.raises(ValidationError, match=f"a {node_type.value} node must have") as exc:
        _spec(node_type=node_type, dependencies=deps, outputs=outs)
    assert f"set node_type=NodeType.{fitting}" in str(exc.value)  # the fix names the fit


def test_other_node_types_accept_their_shapes() -> None:
    assert _spec(node_type=NodeType.SOURCE, dependencies=[]).node_type is NodeType.SOURCE
    assert _spec(node_type=NodeType.SINK, outputs=[]).node_type is NodeType.SINK
    assert _spec(node_type=NodeType.SINGULAR, dependencies=[], outputs=[])


def test_alias_clashing_with_another_output_case_insensitively_is_refused() -> None:
    with pytest.raises(ValidationError, match="'Model_Output' is also used"):
        _spec(outputs=[_out(), _out("other", aliases=["Model_Output"])])


def test_duplicate_logical_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="appears twice"):
        _spec(dependencies=[_dep(), _dep()])


def test_output_names_differing_only_in_case_are_refused() -> None:
    with pytest.raises(ValidationError, match="'MODEL_OUTPUT' appears twice"):
        _spec(outputs=[_out(), _out("MODEL_OUTPUT", "properties.TrainingJobName")])


def test_dependency_names_differing_only_in_case_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"'Input_Path' appears twice \(as 'input_path'\)"):
        _spec(dependencies=[_dep(), _dep("Input_Path")])


def test_dict_keys_must_be_the_logical_names() -> None:
    # Otherwise get_dependency()/outputs[...] would look up one name and find another.
    with pytest.raises(ValidationError, match=r"dependencies\['data'\] holds logical_name"):
        _spec(dependencies={"data": _dep("input_path")})
    assert _spec(dependencies={"input_path": _dep()}).get_dependency("input_path")


def test_property_path_must_start_with_properties() -> None:
    with pytest.raises(ValidationError, match="must start with 'properties.'"):
        _out(path="ModelArtifacts.S3ModelArtifacts")


@pytest.mark.parametrize(
    "path",
    [
        "properties.TrainingMetrics",  # the seed's first mistake
        "properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath",  # its second
    ],
)
def test_seed_property_paths_are_refused_at_construction(path: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _spec(outputs=[_out(path=path)])
    message = str(exc.value)
    assert "SageMaker rejects for a Training step" in message
    assert "FinalMetricDataList" in message or "properties.OutputDataConfig.S3OutputPath" in message


def test_property_path_is_checked_for_the_spec_sagemaker_type() -> None:
    # Valid for Training, not for Processing.
    with pytest.raises(ValidationError, match="Processing step"):
        _spec(sagemaker_step_type=SageMakerStepType.PROCESSING)


def test_alignment_contract_input_without_dependency_is_an_error() -> None:
    contract = TrainingScriptContract(
        entry_point="train.py",
        expected_input_paths={"input_path": "/opt/ml/input/data", "extra": "/opt/ml/input/config"},
        expected_output_paths={"model_output": "/opt/ml/model"},
    )
    result = _spec(script_contract=contract).validate_contract_alignment()
    assert not result.is_valid
    assert len(result.errors) == 1 and "contract input 'extra'" in result.errors[0]


def test_alignment_contract_output_without_output_is_an_error() -> None:
    contract = TrainingScriptContract(
        entry_point="train.py",
        expected_input_paths={"input_path": "/opt/ml/input/data"},
        expected_output_paths={"model_output": "/opt/ml/model", "ckpt": "/opt/ml/checkpoints"},
    )
    result = _spec(script_contract=contract).validate_contract_alignment()
    assert not result.is_valid and "contract output 'ckpt'" in result.errors[0]


def test_alignment_matches_contract_outputs_by_alias() -> None:
    contract = TrainingScriptContract(
        entry_point="train.py",
        expected_input_paths={"input_path": "/opt/ml/input/data"},
        expected_output_paths={"model_data": "/opt/ml/model"},
    )
    spec = _spec(outputs=[_out(aliases=["model_data"])], script_contract=contract)
    assert spec.validate_contract_alignment().is_valid


CUSTOM = DependencyType.CUSTOM_PROPERTY


def test_alignment_extra_spec_entries_are_warnings_except_job_properties() -> None:
    contract = TrainingScriptContract(entry_point="train.py")
    spec = _spec(
        script_contract=contract,
        outputs=[
            _out(),
            _out("job_name", "properties.TrainingJobName", output_type=CUSTOM),
        ],
    )
    result = spec.validate_contract_alignment()
    assert result.is_valid
    assert len(result.warnings) == 2
    assert any("dependency 'input_path'" in w for w in result.warnings)
    assert any("output 'model_output'" in w for w in result.warnings)
    assert not any("job_name" in w for w in result.warnings)


def test_alignment_wrong_contract_flavour_is_an_error() -> None:
    contract = ProcessingScriptContract(entry_point="train.py")
    result = _spec(script_contract=contract).validate_contract_alignment()
    assert not result.is_valid and "TrainingScriptContract" in result.errors[0]


def test_alignment_without_contract() -> None:
    training = _spec().validate_contract_alignment()
    assert training.is_valid and "no script contract" in training.warnings[0]
    model = _spec(
        sagemaker_step_type=SageMakerStepType.MODEL, outputs=[_out("m", "properties.ModelName")]
    ).validate_contract_alignment()
    assert model.is_valid and model.warnings == []
