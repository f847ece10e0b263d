"""RegisterModel: a model package version in a model package group (CreateModelPackage).

Its ModelMetrics point at the evaluation step's ``evaluation.json``, so the
registry shows the test metrics the package was approved on.
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

REGISTER_MODEL_SPEC = StepSpecification(
    step_type="RegisterModel",
    sagemaker_step_type=SageMakerStepType.REGISTER_MODEL,
    node_type=NodeType.INTERNAL,
    dependencies=[
        DependencySpec(
            logical_name="model_data",
            dependency_type=DependencyType.MODEL_ARTIFACTS,
            required=True,
            compatible_sources=["PyTorchTraining", "TrainingStep"],
            semantic_keywords=["model", "artifacts", "model_data", "trained", "model_output"],
            description="model.tar.gz of the package (InferenceSpecification.Containers)",
        ),
        DependencySpec(
            logical_name="metrics_output",
            dependency_type=DependencyType.PROCESSING_OUTPUT,
            required=True,
            compatible_sources=["ModelEvaluation"],
            semantic_keywords=["metrics", "evaluation", "report", "quality"],
            description="S3 prefix of evaluation.json (ModelMetrics.ModelQuality.Statistics)",
        ),
    ],
    outputs=[
        OutputSpec.job_property(
            "model_package_arn",
            "ModelPackageArn",
            "String",
            "ARN of the registered model package version",
        ),
        OutputSpec.job_property(
            "model_package_version",
            "ModelPackageVersion",
            "Integer",
            "version number within the model package group",
        ),
        OutputSpec.job_property(
            "approval_status",
            "ModelApprovalStatus",
            "String",
            "the package's ModelApprovalStatus (botocore's enum)",
        ),
    ],
    script_contract=None,
    description="Register the trained model, with its test metrics, in the model registry",
)
