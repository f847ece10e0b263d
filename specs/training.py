"""What the BSM training steps share, whatever the framework: the Training step's
dependencies (the splits, the hyperparameters) and outputs (the job's artifacts and
properties). ``specs/pytorch_training.py`` and ``specs/xgboost_training.py`` build their
spec with :func:`bsm_training_spec`."""

from __future__ import annotations

from contracts.base import TrainingScriptContract
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)


def bsm_training_spec(
    step_type: str, framework: str, contract: TrainingScriptContract
) -> StepSpecification:
    """The Training step ``step_type`` that trains the BSM classifier with ``framework``
    (its name, e.g. "PyTorch") running ``contract``'s script."""
    return StepSpecification(
        step_type=step_type,
        sagemaker_step_type=SageMakerStepType.TRAINING,
        node_type=NodeType.INTERNAL,
        script_contract=contract,
        description=f"Trains the BSM classifier with {framework} on the train/val/test splits.",
        dependencies=[
            DependencySpec(
                logical_name="input_path",
                dependency_type=DependencyType.TRAINING_DATA,
                required=True,
                compatible_sources=["TabularPreprocessing", "ProcessingStep"],
                semantic_keywords=[
                    "data",
                    "input",
                    "training",
                    "dataset",
                    "processed",
                    "train",
                    framework.lower(),
                ],
                data_type="S3Uri",
                description=(
                    "S3 prefix holding train/, val/ and test/ subfolders; each becomes a "
                    "training channel under /opt/ml/input/data/<channel>"
                ),
            ),
            DependencySpec(
                logical_name="config",
                dependency_type=DependencyType.HYPERPARAMETERS,
                required=True,
                compatible_sources=["HyperparameterPrep", "ProcessingStep"],
                semantic_keywords=["config", "params", "hyperparameters", "settings"],
                data_type="S3Uri",
                description=(
                    "hyperparameters.json, delivered as /opt/ml/input/config/hyperparameters.json"
                ),
            ),
        ],
        outputs=[
            OutputSpec(
                logical_name="model_output",
                aliases=["ModelArtifacts", "model_data", "output_path", "model_input"],
                output_type=DependencyType.MODEL_ARTIFACTS,
                property_path="properties.ModelArtifacts.S3ModelArtifacts",
                data_type="S3Uri",
                description="model.tar.gz packed from /opt/ml/model",
            ),
            OutputSpec(
                logical_name="data_output",
                output_type=DependencyType.PROCESSING_OUTPUT,
                property_path="properties.OutputDataConfig.S3OutputPath",
                data_type="S3Uri",
                description=(
                    "the job's S3 output prefix; output.tar.gz (from /opt/ml/output/data) is "
                    "under <prefix>/<job name>/output/"
                ),
            ),
            OutputSpec(
                logical_name="checkpoints",
                output_type=DependencyType.MODEL_ARTIFACTS,
                property_path="properties.CheckpointConfig.S3Uri",
                data_type="S3Uri",
                description="checkpoints synced from /opt/ml/checkpoints (CheckpointConfig.S3Uri)",
            ),
            OutputSpec.job_property(
                "training_job_name",
                "TrainingJobName",
                "String",
                "name of the training job (a property of the job, not a file)",
            ),
            OutputSpec(
                logical_name="metrics_output",
                aliases=["TrainingMetrics"],
                output_type=DependencyType.CUSTOM_PROPERTY,
                property_path="properties.FinalMetricDataList",
                data_type="List",
                description=(
                    "final values of the metric definitions (a property of the job, not a "
                    "file); one metric via properties.FinalMetricDataList['<name>'].Value"
                ),
            ),
        ],
    )
