"""Contract of ``evaluate.py``: a trained model + the test split → metrics and predictions.

``evaluation.json`` under the ``metrics_output`` output is the SageMaker
PropertyFile a Condition step reads with ``Std:JsonGet`` (``metrics.auroc.value``)
and the ModelQuality statistics a RegisterModel step attaches to the package.
"""

from __future__ import annotations

from contracts.base import ProcessingScriptContract

MODEL_EVALUATION_CONTRACT = ProcessingScriptContract(
    entry_point="evaluate.py",
    expected_input_paths={
        # model.tar.gz of the training job (ModelArtifacts.S3ModelArtifacts).
        "model_input": "/opt/ml/processing/input/model",
        # The test split: <processed_data>/test of the preprocessing step.
        "processed_data": "/opt/ml/processing/input/eval_data",
    },
    expected_output_paths={
        "metrics_output": "/opt/ml/processing/output/metrics",
        "eval_output": "/opt/ml/processing/output/eval",
    },
    required_env_vars=[],
    optional_env_vars={"ID_FIELD": "order_id", "LABEL_FIELD": "label"},
    expected_arguments={"job_type": "testing"},
    framework_requirements={"torch": "==2.13.0", "scikit-learn": ">=1.3", "pandas": ">=2"},
    description=(
        "Unpacks model.tar.gz, scores the test split, writes metrics/evaluation.json "
        '({"metrics": {"auroc": {"value": …}, "f1": {"value": …}, …}}) and eval/ '
        "(predictions and plots)."
    ),
)
