"""Contract of ``preprocess.py``: raw BSM data → stratified train/val/test splits.

The step runs as a SageMaker processing job. Its raw data arrive through the
``DATA`` ProcessingInput and its splits leave through the ``processed_data``
ProcessingOutput, whose LocalPath is the whole output root, so downstream
steps read ``<processed_data S3 URI>/train``, ``/val`` and ``/test``.
"""

from __future__ import annotations

from contracts.base import ProcessingScriptContract

TABULAR_PREPROCESS_CONTRACT = ProcessingScriptContract(
    entry_point="preprocess.py",
    # Logical names are the ProcessingInput InputName / ProcessingOutput
    # OutputName the pipeline uses (see tests/fixtures/sdk_pipeline_definition.json).
    expected_input_paths={"DATA": "/opt/ml/processing/input/data"},
    expected_output_paths={"processed_data": "/opt/ml/processing/output"},
    required_env_vars=[],
    optional_env_vars={
        "LABEL_FIELD": "label",
        "TRAIN_RATIO": "0.7",
        "TEST_VAL_RATIO": "0.5",
    },
    expected_arguments={"job_type": "training"},
    framework_requirements={"pandas": ">=2", "pyarrow": ">=14", "scikit-learn": ">=1.3"},
    description=(
        "Reads raw csv/tsv/parquet files (any depth) under the DATA input, splits them "
        "stratified by LABEL_FIELD and seeded: TRAIN_RATIO of the rows go to train, the "
        "rest is split TEST_VAL_RATIO to test and the remainder to val; writes "
        "train/, val/ and test/ under the processed_data output."
    ),
)
