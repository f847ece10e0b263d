"""PyTorchModel: a SageMaker Model (CreateModel) pointing at the trained model.tar.gz.

No script runs, so there is no script contract: the step is one CreateModel
request whose ``PrimaryContainer.ModelDataUrl`` is the training job's
``ModelArtifacts.S3ModelArtifacts``.
"""

from __future__ import annotations

from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)

CREATE_MODEL_SPEC = StepSpecification(
    step_type="PyTorchModel",
    sagemaker_step_type=SageMakerStepType.MODEL,
    node_type=NodeType.INTERNAL,
    dependencies=[
        DependencySpec(
            logical_name="model_data",
            dependency_type=DependencyType.MODEL_ARTIFACTS,
            required=True,
            compatible_sources=["PyTorchTraining", "TrainingStep"],
            semantic_keywords=["model", "artifacts", "model_data", "trained", "model_output"],
            description="model.tar.gz to serve (PrimaryContainer.ModelDataUrl)",
        ),
    ],
    outputs=[
        OutputSpec.job_property("model_name", "ModelName", "String", "name SageMaker gave it"),
        OutputSpec.job_property("model_arn", "ModelArn", "String", "ARN of the model"),
        OutputSpec(
            logical_name="model_data_url",
            aliases=["ModelDataUrl", "served_model_data"],
            output_type=DependencyType.MODEL_ARTIFACTS,
            property_path="properties.PrimaryContainer.ModelDataUrl",
            description="the model.tar.gz the model serves",
        ),
    ],
    script_contract=None,
    description="SageMaker Model for the trained PyTorch model",
)
