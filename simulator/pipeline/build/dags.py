"""Named pipeline DAGs: which step specs run, in which order, behind which gate.

A DAG names its steps (pipeline step name → spec ``step_type`` in the spec
registry) and its edges (upstream → downstream). The dependency resolver
decides *what* flows along each edge; the DAG only says *which* steps may feed
which. An optional quality gate turns into a SageMaker Condition step: when the
metric in the evaluation step's PropertyFile clears a threshold parameter the
gated steps run, otherwise a Fail step ends the execution with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ValidationError


@dataclass(frozen=True)
class QualityGate:
    """A Condition step on a metric of a PropertyFile, with a Fail step as else-branch."""

    name: str
    source_step: str  # the step whose output holds the property file
    output_name: str  # ProcessingOutput OutputName of that file
    property_file: str  # PropertyFileName
    file_path: str  # path of the JSON file under the output
    json_path: str  # JSONPath of the metric in the file
    threshold_parameter: str  # Float pipeline parameter compared against
    gated_steps: tuple[str, ...]  # run when metric >= threshold (the IfSteps)
    fail_step: str  # the ElseSteps' Fail step
    metric_label: str = "metric"


@dataclass(frozen=True)
class PipelineDAG:
    """Steps, edges and an optional quality gate of one pipeline."""

    name: str
    description: str
    steps: dict[str, str]  # pipeline step name -> spec step_type
    edges: tuple[tuple[str, str], ...]
    gate: QualityGate | None = None
    # Sub-prefix a step reads from an upstream output (ModelEvaluation reads
    # <processed_data>/test), keyed by (step name, dependency logical name).
    input_subpaths: dict[tuple[str, str], str] = field(default_factory=dict)
    # What this DAG's steps need other than the config's defaults (another trainer's
    # hyperparameters and images): used for every PipelineConfig field the user left unset.
    config_defaults: dict[str, Any] = field(default_factory=dict)
    # The training step's code when it is not in the step code's source dir
    # (dockers/pytorch_bsm by default, which keeps the processing scripts).
    training_source_dir: Path | None = None

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValidationError(f"pipeline DAG {self.name!r}", problems)

    def _problems(self) -> list[Problem]:
        problems: list[Problem] = []
        known = set(self.steps)
        for i, (up, down) in enumerate(self.edges):
            for end, name in (("upstream", up), ("downstream", down)):
                if name not in known:
                    problems.append(
                        Problem(
                            f"edges[{i}]",
                            f"{end} step is not a step of the DAG",
                            name,
                            f"use one of: {', '.join(sorted(known))}",
                        )
                    )
            if up == down:
                problems.append(Problem(f"edges[{i}]", "a step cannot feed itself", up))
        if not problems:
            try:
                self.topological_order()
            except ValueError as exc:
                problems.append(Problem("edges", str(exc), fix="remove an edge of the cycle"))
        if self.gate is not None:
            gate = self.gate
            if gate.source_step not in known:
                problems.append(
                    Problem("gate.source_step", "not a step of the DAG", gate.source_step)
                )
            for name in gate.gated_steps:
                if name not in known:
                    problems.append(Problem("gate.gated_steps", "not a step of the DAG", name))
            for name in (gate.name, gate.fail_step):
                if name in known:
                    problems.append(
                        Problem("gate", "gate step names must differ from spec step names", name)
                    )
        for step, _dependency in self.input_subpaths:
            if step not in known:
                problems.append(Problem("input_subpaths", "not a step of the DAG", step))
        return problems

    def upstream(self, step: str) -> list[str]:
        """Steps with an edge into ``step``, in edge order."""
        return [up for up, down in self.edges if down == step]

    def topological_order(self) -> list[str]:
        """Step names, every step after its upstream steps (ties kept in declaration order)."""
        pending = {name: set(self.upstream(name)) for name in self.steps}
        order: list[str] = []
        while pending:
            ready = [name for name, ups in pending.items() if not ups]
            if not ready:
                raise ValueError(f"the edges form a cycle through {', '.join(sorted(pending))}")
            for name in ready:
                order.append(name)
                del pending[name]
            for ups in pending.values():
                ups.difference_update(ready)
        return order

    def gated(self, step: str) -> bool:
        """True when ``step`` runs only if the quality gate passes."""
        return step in self.gated_steps()

    def gated_steps(self) -> set[str]:
        """The gate's steps and everything downstream of them (they cannot run without them)."""
        if self.gate is None:
            return set()
        closure = set(self.gate.gated_steps)
        changed = True
        while changed:
            changed = False
            for up, down in self.edges:
                if up in closure and down not in closure:
                    closure.add(down)
                    changed = True
        return closure


BSM = PipelineDAG(
    name="bsm",
    description=(
        "BSM: preprocess -> train -> evaluate -> if test AUROC >= threshold "
        "create model + batch-transform the test split + register it, else fail"
    ),
    steps={
        "TabularPreprocessing": "TabularPreprocessing",
        "PyTorchTraining": "PyTorchTraining",
        "ModelEvaluation": "ModelEvaluation",
        "CreateBSMModel": "PyTorchModel",
        "BatchTransformTest": "PyTorchBatchTransform",
        "RegisterBSMModel": "RegisterModel",
    },
    edges=(
        ("TabularPreprocessing", "PyTorchTraining"),
        ("PyTorchTraining", "ModelEvaluation"),
        ("TabularPreprocessing", "ModelEvaluation"),
        ("PyTorchTraining", "CreateBSMModel"),
        ("CreateBSMModel", "BatchTransformTest"),
        ("TabularPreprocessing", "BatchTransformTest"),
        ("PyTorchTraining", "RegisterBSMModel"),
        ("ModelEvaluation", "RegisterBSMModel"),
    ),
    gate=QualityGate(
        name="CheckAUROC",
        source_step="ModelEvaluation",
        output_name="metrics_output",
        property_file="EvaluationReport",
        file_path="evaluation.json",
        json_path="metrics.auroc.value",
        threshold_parameter="AurocThreshold",
        gated_steps=("CreateBSMModel", "RegisterBSMModel"),
        fail_step="AurocTooLow",
        metric_label="test AUROC",
    ),
    # The transform reads the test split without its header line (preprocess.py's
    # batch/ folder): with SplitType Line every line is a record.
    input_subpaths={
        ("ModelEvaluation", "processed_data"): "test",
        ("BatchTransformTest", "transform_input"): "batch",
    },
)

# The SageMaker XGBoost image: framework mode with sagemaker_program (our script), and the
# serving image of the model it trains (it loads xgboost-model).
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

BSM_XGBOOST = replace(
    BSM,
    name="bsm-xgboost",
    description=(
        "BSM with the XGBoost trainer: preprocess -> train (XGBoost) -> evaluate -> if test "
        "AUROC >= threshold create model + register it, else fail"
    ),
    steps={
        "TabularPreprocessing": "TabularPreprocessing",
        "XGBoostTraining": "XGBoostTraining",
        "ModelEvaluation": "ModelEvaluation",
        "CreateBSMModel": "PyTorchModel",  # CreateModel: the spec names no framework
        "RegisterBSMModel": "RegisterModel",
    },
    edges=(
        ("TabularPreprocessing", "XGBoostTraining"),
        ("XGBoostTraining", "ModelEvaluation"),
        ("TabularPreprocessing", "ModelEvaluation"),
        ("XGBoostTraining", "CreateBSMModel"),
        ("XGBoostTraining", "RegisterBSMModel"),
        ("ModelEvaluation", "RegisterBSMModel"),
    ),
    input_subpaths={("ModelEvaluation", "processed_data"): "test"},
    config_defaults={
        "pipeline_name": "BsmXgboostPipeline",
        "model_package_group": "BsmXgboostModels",
        "hyperparameters": {"num_round": 100, "eta": 0.15, "early_stopping_rounds": 15},
        "training_image_uri": XGBOOST_IMAGE,
        "inference_image_uri": XGBOOST_IMAGE,
        "inference_entry_point": None,  # the XGBoost image serves xgboost-model itself
    },
    # xgboost_train.py and its xgb_bsm/ package; the processing steps keep the scripts of
    # dockers/pytorch_bsm (evaluate.py scores either model type).
    training_source_dir=Path(__file__).resolve().parents[3] / "dockers" / "xgboost_bsm",
)


# The BSM pipeline with a Tuning step in place of the training step: a hyperparameter
# tuning job over lr and dropout; evaluation, the model, the transform and the registered
# package take the best training job's model.tar.gz (the SDK's get_top_model_s3_uri(0)).
def _tuned(step: str) -> str:
    return "Tune" if step == "PyTorchTraining" else step


BSM_TUNING = replace(
    BSM,
    name="bsm-tuning",
    description=(
        "BSM with tuning: preprocess -> tune lr and dropout (training jobs) -> evaluate the "
        "best model -> if test AUROC >= threshold create it + batch-transform the test split "
        "+ register it, else fail"
    ),
    steps={
        **{k: v for k, v in BSM.steps.items() if k != "PyTorchTraining"},
        "Tune": "PyTorchTuning",
    },
    edges=tuple((_tuned(up), _tuned(down)) for up, down in BSM.edges),
    config_defaults={
        "pipeline_name": "BsmTuningPipeline",
        "model_package_group": "BsmTunedModels",
        "tuning_ranges": {
            "lr": {"min": 0.001, "max": 0.05, "scaling": "Logarithmic"},
            "dropout": {"min": 0.0, "max": 0.5, "scaling": "Linear"},
        },
    },
)

DAGS: dict[str, PipelineDAG] = {dag.name: dag for dag in (BSM, BSM_XGBOOST, BSM_TUNING)}


def get_dag(name: str) -> PipelineDAG:
    """The named DAG; an unknown name is an error listing the known ones."""
    try:
        return DAGS[name]
    except KeyError:
        raise ValidationError(
            "pipeline DAG",
            [Problem("--dag", "no such DAG", name, f"use one of: {', '.join(sorted(DAGS))}")],
        ) from None


def dag_names() -> Iterable[str]:
    """Names of the built-in DAGs."""
    return sorted(DAGS)
