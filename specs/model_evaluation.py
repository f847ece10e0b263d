"""ModelEvaluation: score the trained model on the test split (a processing job)."""

from __future__ import annotations

from contracts.model_evaluation import MODEL_EVALUATION_CONTRACT
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)

_OUTPUTS = "properties.ProcessingOutputConfig.Outputs"

MODEL_EVALUATION_SPEC = StepSpecification(
    step_type="ModelEvaluation",
    sagemaker_step_type=SageMakerStepType.PROCESSING,
    node_type=NodeType.INTERNAL,
    dependencies=[
        DependencySpec(
            logical_name="model_input",
            dependency_type=DependencyType.MODEL_ARTIFACTS,
            required=True,
            compatible_sources=["PyTorchTraining", "TrainingStep"],
            semantic_keywords=["model", "artifacts", "trained", "model_data", "model_output"],
            description="model.tar.gz of the training job",
        ),
        DependencySpec(
            logical_name="processed_data",
            dependency_type=DependencyType.PROCESSING_OUTPUT,
            required=True,
            compatible_sources=["TabularPreprocessing", "ProcessingStep"],
            semantic_keywords=["data", "processed", "test", "eval", "evaluation", "tabular"],
            description="preprocessed splits; the step reads their test/ part",
        ),
    ],
    outputs=[
        OutputSpec(
            logical_name="metrics_output",
            aliases=["evaluation_metrics", "EvaluationReport", "metrics"],
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path=f"{_OUTPUTS}['metrics_output'].S3Output.S3Uri",
            description="S3 prefix holding evaluation.json (the pipeline's PropertyFile)",
        ),
        OutputSpec(
            logical_name="eval_output",
            aliases=["predictions", "evaluation_output"],
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path=f"{_OUTPUTS}['eval_output'].S3Output.S3Uri",
            description="S3 prefix holding test predictions and plots",
        ),
    ],
    script_contract=MODEL_EVALUATION_CONTRACT,
    description="AUROC, F1 and predictions of the trained model on the held-out test split",
)
