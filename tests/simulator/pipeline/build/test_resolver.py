"""Dependency resolver: type gate, aliases, sources, keywords, threshold, unresolved errors."""

from __future__ import annotations

import pytest

from simulator.errors import SmsimError, ValidationError
from simulator.pipeline.build.resolver import (
    THRESHOLD,
    WEIGHTS,
    UnresolvedDependencyError,
    resolve_dag,
    resolve_step,
    score_match,
)
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)
from specs.registry import default_registry

DT = DependencyType
PROCESSED = "properties.ProcessingOutputConfig.Outputs['{}'].S3Output.S3Uri"


def _producer(
    step_type: str, *outputs: OutputSpec, sm: SageMakerStepType = SageMakerStepType.PROCESSING
) -> StepSpecification:
    return StepSpecification(
        step_type=step_type,
        sagemaker_step_type=sm,
        node_type=NodeType.SOURCE,
        outputs=list(outputs),
    )


def _out(
    name: str, kind: DependencyType = DT.PROCESSING_OUTPUT, aliases=(), description=""
) -> OutputSpec:
    return OutputSpec(
        logical_name=name,
        aliases=list(aliases),
        output_type=kind,
        property_path=PROCESSED.format(name),
        description=description,
    )


def _consumer(*deps: DependencySpec) -> StepSpecification:
    return StepSpecification(
        step_type="Consumer",
        sagemaker_step_type=SageMakerStepType.PROCESSING,
        node_type=NodeType.SINK,
        dependencies=list(deps),
    )


def _dep(name: str, kind: DependencyType = DT.PROCESSING_OUTPUT, **kw) -> DependencySpec:
    return DependencySpec(logical_name=name, dependency_type=kind, **kw)


def test_weights_sum_to_one_and_breakdown_sums_to_total() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    dep = _dep("eval_data", compatible_sources=["Prep"], semantic_keywords=["data", "eval"])
    score = score_match(dep, _producer("Prep", _out("split")), _out("split"))
    assert score.total == pytest.approx(sum(score.breakdown.values()))
    assert set(score.breakdown) == set(WEIGHTS)


def test_alias_equal_to_the_dependency_name_scores_full_marks() -> None:
    out = _out("processed_data", aliases=["EvalData"], description="splits of the data")
    producer = _producer("Prep", out)
    dep = _dep("eval_data", compatible_sources=["Prep"], semantic_keywords=["data", "splits"])
    score = score_match(dep, producer, out)
    assert score.breakdown["name"] == pytest.approx(WEIGHTS["name"])  # camelCase/_ normalised
    assert score.total == pytest.approx(1.0)


def test_incompatible_type_is_a_hard_gate() -> None:
    out = _out("model_input", kind=DT.PROCESSING_OUTPUT)
    dep = _dep("model_input", kind=DT.MODEL_ARTIFACTS, compatible_sources=["Prep"])
    score = score_match(dep, _producer("Prep", out), out)
    assert score.total == 0.0 and score.breakdown == {"type": 0.0}


def test_compatible_other_type_earns_part_of_the_type_weight() -> None:
    out = _out("input_path")
    dep = _dep("input_path", kind=DT.TRAINING_DATA)
    score = score_match(dep, _producer("Prep", out), out)
    assert score.breakdown["type"] == pytest.approx(0.6 * WEIGHTS["type"])
    assert score.total >= THRESHOLD


def test_type_and_data_type_alone_stay_below_the_threshold() -> None:
    producer = _producer("Unrelated", _out("report"))
    dep = _dep("features", compatible_sources=["FeatureStep"], semantic_keywords=["features"])
    [res] = resolve_step("Consumer", _consumer(dep), {"u": producer})
    assert res.chosen is None
    assert 0 < res.candidates[0].score.total < THRESHOLD
    # The same output from a listed compatible source is accepted whatever its name.
    listed = _producer("FeatureStep", _out("report"))
    [res] = resolve_step("Consumer", _consumer(dep), {"u": listed})
    assert res.chosen is not None and res.chosen.score.total >= THRESHOLD


def test_best_candidate_wins_and_candidates_are_sorted() -> None:
    producer = _producer(
        "Prep",
        _out("eval_output", description="predictions"),
        _out("metrics_output", aliases=["metrics"], description="evaluation report"),
    )
    dep = _dep("metrics", compatible_sources=["Prep"], semantic_keywords=["evaluation", "report"])
    [res] = resolve_step("Consumer", _consumer(dep), {"prep": producer})
    assert res.chosen is not None and res.chosen.output.logical_name == "metrics_output"
    totals = [c.score.total for c in res.candidates]
    assert totals == sorted(totals, reverse=True)
    assert res.chosen.step_name == "prep"  # keyed by pipeline step name, not step type


def test_resolve_dag_uses_direct_upstream_edges_only() -> None:
    a = _producer("A", _out("data"))
    b = _producer("B", _out("other"))
    consumer = _consumer(_dep("data", compatible_sources=["A"]))
    result = resolve_dag({"a": a, "b": b, "c": consumer}, [("a", "c")])
    assert result["c"][0].chosen.step_name == "a"
    with pytest.raises(UnresolvedDependencyError):
        resolve_dag({"a": a, "b": b, "c": consumer}, [("b", "c")])


def test_unresolved_required_dependency_lists_candidates_with_breakdown() -> None:
    producer = _producer("Prep", _out("report", description="a report"))
    dep = _dep("features", compatible_sources=["FeatureStep"])
    with pytest.raises(UnresolvedDependencyError) as info:
        resolve_dag({"prep": producer, "c": _consumer(dep)}, [("prep", "c")])
    err = info.value
    assert isinstance(err, SmsimError)
    [res] = err.unresolved
    assert res.dependency.logical_name == "features"
    text = str(err)
    assert "c.features" in text and "prep.report" in text
    for component in WEIGHTS:
        assert component in text
    assert "compatible_sources" in text  # what to change


def test_optional_dependency_may_stay_unresolved() -> None:
    extra = _dep("extra", required=False, compatible_sources=["Elsewhere"])
    consumer = _consumer(extra, _dep("data", compatible_sources=["A"]))
    result = resolve_dag({"a": _producer("A", _out("data")), "c": consumer}, [("a", "c")])
    by_name = {r.dependency.logical_name: r for r in result["c"]}
    assert by_name["extra"].chosen is None and by_name["data"].chosen is not None


def test_a_dependency_without_preferences_takes_any_same_typed_output() -> None:
    [res] = resolve_step("Consumer", _consumer(_dep("anything")), {"a": _producer("A", _out("x"))})
    assert res.chosen is not None
    assert res.chosen.score.breakdown["source"] == pytest.approx(0.5 * WEIGHTS["source"])


def test_edge_to_an_unknown_step_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="nope"):
        resolve_dag({"a": _producer("A", _out("data"))}, [("a", "nope")])


def test_bsm_specs_wire_as_the_pipeline_needs() -> None:
    registry = default_registry()
    training = registry.get("PyTorchTraining")
    # The training job's hyperparameters come with its request (see the assembly helper).
    deps = {
        k: d.model_copy(update={"required": False})
        if d.dependency_type is DT.HYPERPARAMETERS
        else d
        for k, d in training.dependencies.items()
    }
    steps = {
        "Prep": registry.get("TabularPreprocessing"),
        "Train": training.model_copy(update={"dependencies": deps}),
        "Eval": registry.get("ModelEvaluation"),
        "Register": registry.get("RegisterModel"),
    }
    edges = [
        ("Prep", "Train"),
        ("Train", "Eval"),
        ("Prep", "Eval"),
        ("Train", "Register"),
        ("Eval", "Register"),
    ]
    result = resolve_dag(steps, edges)

    def chosen(step: str, dep: str) -> tuple[str, str]:
        res = next(r for r in result[step] if r.dependency.logical_name == dep)
        assert res.chosen is not None
        return res.chosen.step_name, res.chosen.output.logical_name

    assert chosen("Train", "input_path") == ("Prep", "processed_data")
    assert chosen("Eval", "model_input") == ("Train", "model_output")
    assert chosen("Eval", "processed_data") == ("Prep", "processed_data")
    assert chosen("Register", "model_data") == ("Train", "model_output")
    assert chosen("Register", "metrics_output") == ("Eval", "metrics_output")


def test_training_hyperparameters_are_supplied_by_the_job_request() -> None:
    from simulator.pipeline.build.resolver import supplied_by_request

    registry = default_registry()
    training = registry.get("PyTorchTraining")
    assert "HyperParameters" in supplied_by_request(training, training.dependencies["config"])
    assert supplied_by_request(training, training.dependencies["input_path"]) is None
    evaluation = registry.get("ModelEvaluation")
    assert supplied_by_request(evaluation, evaluation.dependencies["model_input"]) is None
