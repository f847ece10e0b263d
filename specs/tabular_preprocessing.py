"""TabularPreprocessing: the first step of the BSM pipeline (a processing job).

Its one dependency, the raw data (the contract's ``DATA`` input), is optional:
in a DAG with a data-loading step upstream the resolver wires it to that
step's output; in the BSM DAG, where this is the first step, nothing feeds it
and the assembly reads it from the pipeline's ``InputData`` parameter. So the
spec is an internal node by its shape (it has a dependency) while it starts the
DAG in practice, and its contract and spec still name the same inputs.
"""

from __future__ import annotations

from contracts.tabular_preprocess import TABULAR_PREPROCESS_CONTRACT
from specs.base import (
    DependencySpec,
    DependencyType,
    NodeType,
    OutputSpec,
    SageMakerStepType,
    StepSpecification,
)

TABULAR_PREPROCESSING_SPEC = StepSpecification(
    step_type="TabularPreprocessing",
    sagemaker_step_type=SageMakerStepType.PROCESSING,
    node_type=NodeType.INTERNAL,
    dependencies=[
        DependencySpec(
            logical_name="DATA",
            dependency_type=DependencyType.PROCESSING_OUTPUT,
            required=False,
            compatible_sources=["CradleDataLoading", "DataLoading", "ProcessingStep"],
            semantic_keywords=["data", "raw", "input", "dataset", "source", "loaded"],
            description=(
                "raw csv/tsv/parquet files; unwired, the pipeline's InputData parameter "
                "supplies them"
            ),
        ),
    ],
    outputs=[
        OutputSpec(
            logical_name="processed_data",
            aliases=["ProcessedTabularData", "training_data", "input_path", "eval_data"],
            output_type=DependencyType.PROCESSING_OUTPUT,
            # Processing outputs are looked up by OutputName in the description.
            property_path=(
                "properties.ProcessingOutputConfig.Outputs['processed_data'].S3Output.S3Uri"
            ),
            description="S3 prefix holding train/, val/ and test/ splits of the raw data",
        ),
    ],
    script_contract=TABULAR_PREPROCESS_CONTRACT,
    description="Stratified, seeded train/val/test split of raw BSM data",
)
