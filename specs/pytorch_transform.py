"""Specification of the BSM batch transform step (a SageMaker Transform step).

CreateTransformJob serves the model a PyTorchModel step created (``ModelName``) on the
records of an S3 prefix (the test split) and writes ``<S3OutputPath>/<key>.out``.
The container serves ``dockers/pytorch_bsm/inference.py`` (the CreateModel step's
``SAGEMAKER_PROGRAM``): its serving contract is the step's script contract.
"""

from __future__ import annotations

from contracts.pytorch_inference import PYTORCH_INFERENCE_CONTRACT
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)

PYTORCH_TRANSFORM_SPEC = StepSpecification(
    step_type="PyTorchBatchTransform",
    sagemaker_step_type=SageMakerStepType.TRANSFORM,
    node_type=NodeType.INTERNAL,
    script_contract=PYTORCH_INFERENCE_CONTRACT,
    description="Scores the test split with the served BSM model (batch transform).",
    dependencies=[
        DependencySpec(
            logical_name="model_name",
            dependency_type=DependencyType.CUSTOM_PROPERTY,
            required=True,
            compatible_sources=["PyTorchModel", "ModelStep"],
            semantic_keywords=["model", "model_name", "ModelName", "served"],
            data_type="String",
            description="the CreateModel model to serve (CreateTransformJob ModelName)",
        ),
        DependencySpec(
            logical_name="transform_input",
            dependency_type=DependencyType.PROCESSING_OUTPUT,
            required=True,
            compatible_sources=["TabularPreprocessing", "ProcessingStep"],
            semantic_keywords=["data", "test", "eval", "batch", "processed", "input"],
            data_type="S3Uri",
            description=(
                "S3 prefix of the records to score (TransformInput.DataSource.S3DataSource."
                "S3Uri), e.g. the test split without its header line"
            ),
        ),
    ],
    outputs=[
        OutputSpec(
            logical_name="transform_output",
            aliases=["TransformOutput", "predictions", "scored_data"],
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path="properties.TransformOutput.S3OutputPath",
            data_type="S3Uri",
            description="prefix of <input key>.out objects, one per input object",
        ),
        OutputSpec(
            logical_name="transform_job_name",
            aliases=["TransformJobName"],
            output_type=DependencyType.CUSTOM_PROPERTY,
            property_path="properties.TransformJobName",
            data_type="String",
            description="name of the transform job (a property of the job, not a file)",
        ),
    ],
)
