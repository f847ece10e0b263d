"""Specification of the PyTorch BSM tuning step (a SageMaker Tuning step).

A hyperparameter tuning job runs ``train.py`` (its training contract) in several training
jobs over the tuned ranges; the step's properties are DescribeHyperParameterTuningJob's
plus ``TrainingJobSummaries`` (best first). Its model output is the best job's
model.tar.gz, which the SDK's ``TuningStep.get_top_model_s3_uri(top_k=0, …)`` spells as
``<S3OutputPath>/<TrainingJobSummaries[0].TrainingJobName>/output/model.tar.gz``: the
assembly composes that URI from the property path below.
"""

from __future__ import annotations

from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from specs import pytorch_training  # the module: the registry collects *_SPEC names
from specs.base import (
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)

PYTORCH_TUNING_SPEC = StepSpecification(
    step_type="PyTorchTuning",
    sagemaker_step_type=SageMakerStepType.TUNING,
    node_type=NodeType.INTERNAL,
    script_contract=PYTORCH_TRAIN_CONTRACT,
    description="Tunes the BSM classifier's hyperparameters (several PyTorch training jobs).",
    # The training jobs read what a training step reads.
    dependencies=list(pytorch_training.PYTORCH_TRAINING_SPEC.dependencies.values()),
    outputs=[
        OutputSpec(
            logical_name="model_output",
            aliases=["ModelArtifacts", "model_data", "best_model", "model_input"],
            output_type=DependencyType.MODEL_ARTIFACTS,
            property_path="properties.TrainingJobSummaries[0].TrainingJobName",
            data_type="S3Uri",
            description=(
                "the best training job's model.tar.gz (the top model: "
                "<S3OutputPath>/<best job>/output/model.tar.gz)"
            ),
        ),
        OutputSpec(
            logical_name="data_output",
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path="properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath",
            data_type="S3Uri",
            description="the training jobs' S3 output prefix (one folder per job)",
        ),
        OutputSpec(
            logical_name="checkpoints",
            output_type=DependencyType.MODEL_ARTIFACTS,
            property_path="properties.TrainingJobDefinition.CheckpointConfig.S3Uri",
            data_type="S3Uri",
            description="checkpoints synced from /opt/ml/checkpoints by each training job",
        ),
        OutputSpec(
            logical_name="best_training_job_name",
            aliases=["BestTrainingJobName", "training_job_name"],
            output_type=DependencyType.CUSTOM_PROPERTY,
            property_path="properties.BestTrainingJob.TrainingJobName",
            data_type="String",
            description="name of the best training job (a property of the tuning job)",
        ),
    ],
)
