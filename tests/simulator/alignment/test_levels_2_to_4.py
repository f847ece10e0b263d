"""Levels 2 (contract ↔ spec), 3 (spec ↔ dependencies) and 4 (spec ↔ SageMaker)."""

from __future__ import annotations

import pytest

from simulator.alignment.contract_spec import check_contract_spec, check_unused_contracts
from simulator.alignment.report import Severity
from simulator.alignment.spec_dependencies import check_dependencies
from simulator.alignment.spec_sagemaker import check_spec_sagemaker
from specs.base import OutputSpec, StepSpecification
from specs.registry import default_contracts, default_registry


@pytest.fixture(scope="module")
def specs() -> dict[str, StepSpecification]:
    return {s.step_type: s for s in default_registry()}


def _with_outputs(spec: StepSpecification, **changes: OutputSpec | None) -> StepSpecification:
    # model_copy skips validation: the mutated spec is what a careless edit would hold.
    outputs = dict(spec.outputs)
    for name, out in changes.items():
        if out is None:
            outputs.pop(name)
        else:
            outputs[name] = out
    return spec.model_copy(update={"outputs": outputs})


# ---------------------------------------------------------------- level 2


def test_level2_our_specs_align_with_their_contracts(specs) -> None:
    for spec in specs.values():
        assert check_contract_spec(spec) == [], spec.step_type


def test_level2_contract_output_without_spec_output_is_an_error(specs) -> None:
    spec = _with_outputs(specs["ModelEvaluation"], eval_output=None)
    [f] = check_contract_spec(spec)
    assert (f.level, f.severity) == (2, Severity.ERROR)
    assert "'eval_output'" in f.message and "OutputSpec(logical_name='eval_output'" in f.fix


def test_level2_outputs_match_by_alias(specs) -> None:
    training = specs["PyTorchTraining"]
    renamed = training.outputs["model_output"].model_copy(
        update={"logical_name": "model_artifacts", "aliases": ["model_output"]}
    )
    spec = _with_outputs(training, model_output=None, model_artifacts=renamed)
    assert check_contract_spec(spec) == []


def test_level2_spec_entries_without_contract_counterpart_are_warnings(specs) -> None:
    training = specs["PyTorchTraining"]
    extra = training.outputs["data_output"].model_copy(update={"logical_name": "extra_files"})
    findings = check_contract_spec(_with_outputs(training, extra_files=extra))
    assert [(f.level, f.severity) for f in findings] == [(2, Severity.WARNING)]
    assert "'extra_files'" in findings[0].message
    # Properties of the job (its name, its metrics) need no contract output: already none above.


def test_level2_contract_used_by_no_spec_is_a_warning(specs) -> None:
    contracts = list(default_contracts().values())
    without_eval = [s for s in specs.values() if s.step_type != "ModelEvaluation"]
    [f] = check_unused_contracts(contracts, without_eval)
    assert f.severity is Severity.WARNING and "evaluate.py" in f.message
    assert check_unused_contracts(contracts, list(specs.values())) == []


# ---------------------------------------------------------------- level 3


def test_level3_every_registered_dependency_has_a_producer(specs) -> None:
    findings, wiring = check_dependencies(list(specs.values()))
    assert findings == []
    chosen = wiring["PyTorchTraining"]["input_path"]["chosen"]
    assert (chosen["step"], chosen["output"]) == ("TabularPreprocessing", "processed_data")
    assert set(chosen["breakdown"]) == {"type", "data_type", "name", "source", "keywords"}
    # The hyperparameters of a training job come with its request, not from a step.
    assert "HyperParameters" in wiring["PyTorchTraining"]["config"]["supplied_by"]


def test_level3_missing_producer_is_an_error_with_candidates(specs) -> None:
    without_prep = [s for s in specs.values() if s.step_type != "TabularPreprocessing"]
    findings, _ = check_dependencies(without_prep)
    by_dep = {(f.step, f.location.split("'")[1]): f for f in findings}
    f = by_dep[("PyTorchTraining", "input_path")]
    assert (f.level, f.severity, f.rule) == (3, Severity.ERROR, "dependency.unresolved")
    assert "best candidates" in f.message and "source" in f.message  # score breakdown shown
    assert "TabularPreprocessing" in f.fix  # names the compatible sources to register
    assert ("ModelEvaluation", "processed_data") in by_dep


def test_level3_tie_between_producers_is_a_warning(specs) -> None:
    prep = specs["TabularPreprocessing"]
    twin = prep.model_copy(update={"step_type": "TabularPreprocessingTwin"})
    consumer = specs["ModelEvaluation"]
    dep = consumer.dependencies["processed_data"].model_copy(
        update={"compatible_sources": ["TabularPreprocessing", "TabularPreprocessingTwin"]}
    )
    consumer = consumer.model_copy(
        update={"dependencies": {**consumer.dependencies, "processed_data": dep}}
    )
    findings, _ = check_dependencies([prep, twin, consumer, specs["PyTorchTraining"]])
    ambiguous = [f for f in findings if f.rule == "dependency.ambiguous"]
    assert ambiguous and ambiguous[0].severity is Severity.WARNING


# ---------------------------------------------------------------- level 4


def test_level4_our_property_paths_are_valid(specs) -> None:
    for spec in specs.values():
        assert check_spec_sagemaker(spec) == [], spec.step_type


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("properties.TrainingMetrics", "properties.FinalMetricDataList"),
        (
            "properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath",
            "properties.OutputDataConfig.S3OutputPath",
        ),
        ("properties.S3ModelArtifacts", "properties.ModelArtifacts.S3ModelArtifacts"),
    ],
)
def test_level4_invalid_training_path_is_an_error_with_suggestion(specs, path, expected) -> None:
    training = specs["PyTorchTraining"]
    bad = training.outputs["metrics_output"].model_copy(update={"property_path": path})
    [f] = check_spec_sagemaker(_with_outputs(training, metrics_output=bad))
    assert (f.level, f.severity, f.rule) == (4, Severity.ERROR, "property_path.invalid")
    assert path in f.message and expected.split(".")[1] in f.message
    # The fix is the corrected path itself, ready to paste into the spec.
    assert f.fix == f"set property_path={expected!r}"


def test_level4_invalid_path_without_a_close_valid_one_points_to_paths_check(specs) -> None:
    training = specs["PyTorchTraining"]
    bad = training.outputs["metrics_output"].model_copy(update={"property_path": "properties.Zzz"})
    [f] = check_spec_sagemaker(_with_outputs(training, metrics_output=bad))
    assert "smsim paths check --step-type Training" in f.fix


def test_level4_processing_output_lookup_must_name_a_contract_output(specs) -> None:
    evaluation = specs["ModelEvaluation"]
    out = evaluation.outputs["metrics_output"]
    unknown = out.model_copy(
        update={"property_path": out.property_path.replace("metrics_output", "metrics")}
    )
    [f] = check_spec_sagemaker(_with_outputs(evaluation, metrics_output=unknown))
    assert f.severity is Severity.ERROR and "'metrics'" in f.message
    assert "metrics_output" in f.message  # the declared names / did-you-mean
    other = out.model_copy(
        update={"property_path": out.property_path.replace("metrics_output", "eval_output")}
    )
    [f] = check_spec_sagemaker(_with_outputs(evaluation, metrics_output=other))
    assert f.rule == "property_path.other_output"
    assert "Outputs['metrics_output']" in f.fix


def test_level4_metric_lookup_needs_metric_definitions(specs) -> None:
    training = specs["PyTorchTraining"]
    auroc = training.outputs["metrics_output"].model_copy(
        update={
            "logical_name": "val_auroc",
            "aliases": [],
            "property_path": "properties.FinalMetricDataList['val:auroc'].Value",
        }
    )
    spec = _with_outputs(training, val_auroc=auroc)
    [f] = check_spec_sagemaker(spec)
    assert (f.severity, f.rule) == (Severity.WARNING, "property_path.metric_unknown")
    assert "MetricDefinitions" in f.fix and "'val:auroc'" in f.fix
    assert check_spec_sagemaker(spec, metric_names=["val:auroc", "val:loss"]) == []
    [f] = check_spec_sagemaker(spec, metric_names=["val:loss"])
    assert f.severity is Severity.ERROR and "'val:auroc'" in f.message


# ---------------------------------------------------------------- level 4: metric definitions


@pytest.fixture(scope="module")
def train_facts():
    from simulator.alignment.project import BUILTIN_SCRIPTS_DIR
    from simulator.alignment.script_ast import analyse_script

    return analyse_script(BUILTIN_SCRIPTS_DIR / "train.py", "training")


def test_level4_contract_metric_definitions_match_what_train_py_prints(specs, train_facts) -> None:
    from simulator.alignment.spec_sagemaker import check_metric_definitions

    training = specs["PyTorchTraining"]
    definitions = training.script_contract.metric_definitions
    assert {d["Name"] for d in definitions} == {"train:loss", "val:loss", "val:auroc", "val:f1"}
    assert check_metric_definitions(training, definitions, train_facts) == []


def test_level4_metric_definition_matching_nothing_is_a_warning(specs, train_facts) -> None:
    from simulator.alignment.spec_sagemaker import check_metric_definitions

    definitions = [
        {"Name": "val:accuracy", "Regex": r"val_accuracy=([0-9\.]+)"},
        {"Name": "broken", "Regex": r"val_loss=([0-9\.]+"},
    ]
    unmatched, broken = check_metric_definitions(specs["PyTorchTraining"], definitions, train_facts)
    assert (unmatched.severity, unmatched.rule) == (Severity.WARNING, "metric_definition.unmatched")
    assert "'val:accuracy'" in unmatched.message and "val_accuracy=<value>" in unmatched.fix
    assert (broken.severity, broken.rule) == (Severity.ERROR, "metric_definition.regex")


def test_level4_metric_lookups_checked_against_our_metric_definitions(specs) -> None:
    from simulator.alignment import builtin_project, validate_project

    project = builtin_project()
    training = specs["PyTorchTraining"]
    lookup = training.outputs["metrics_output"].model_copy(
        update={
            "logical_name": "val_acc",
            "aliases": [],
            "property_path": "properties.FinalMetricDataList['val:acc'].Value",
        }
    )
    project.specs = [
        _with_outputs(s, val_acc=lookup) if s.step_type == "PyTorchTraining" else s
        for s in project.specs
    ]
    [f] = validate_project(project).findings
    assert (f.level, f.severity) == (4, Severity.ERROR)
    assert "'val:acc'" in f.message and "'val:auroc'" in f.message  # the defined metrics
