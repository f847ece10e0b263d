"""Contract of ``dockers/xgboost_bsm/xgboost_train.py``, the XGBoost BSM training script.

The same container paths as the PyTorch trainer's contract (``pytorch_train``), so the
BSM pipeline can wire either trainer to the same preprocessing and evaluation steps.
"""

from __future__ import annotations

from contracts.base import TrainingScriptContract

XGBOOST_TRAIN_CONTRACT = TrainingScriptContract(
    entry_point="xgboost_train.py",
    expected_input_paths={
        # One directory per channel under input/data: train, val and test.
        "input_path": "/opt/ml/input/data",
        # The training toolkit writes the job's HyperParameters here.
        "config": "/opt/ml/input/config/hyperparameters.json",
    },
    expected_output_paths={
        "model_output": "/opt/ml/model",  # xgboost-model, xgboost-model.json → model.tar.gz
        "data_output": "/opt/ml/output/data",  # predictions.csv, metrics.json → output.tar.gz
        "checkpoints": "/opt/ml/checkpoints",  # xgboost-checkpoint.<round> + progress.json
    },
    required_env_vars=[],
    # SAGEMAKER_BASE_DIR is read too, but the platform sets it.
    optional_env_vars={"SM_CHECKPOINT_DIR": "/opt/ml/checkpoints"},
    expected_arguments={},
    framework_requirements={"xgboost": ">=3.0"},
    # SageMaker's XGBoost metric names, matched on the round line xgboost_train.py prints
    # (`[N]#011train-logloss:…#011validation-auc:…`; #011 is a tab in CloudWatch's text).
    metric_definitions=[
        {"Name": f"{channel}:{metric}", "Regex": rf"#011{channel}-{metric}:([0-9\.]+)"}
        for channel in ("train", "validation")
        for metric in ("logloss", "auc")
    ],
    description=(
        "Trains an XGBoost BSM classifier on the tabular fields plus word counts of the "
        "dialogue. Reads the channels train, val and test under /opt/ml/input/data/<channel>/ "
        "and every hyperparameter from /opt/ml/input/config/hyperparameters.json (defaults "
        "match the synthetic data; num_round, eta, max_depth, early_stopping_rounds…). Writes "
        "xgboost-model to /opt/ml/model, predictions and metrics to /opt/ml/output/data and "
        "per-round checkpoints to /opt/ml/checkpoints; prints "
        "'[N]#011train-logloss:…#011train-auc:…#011validation-logloss:…#011validation-auc:…'."
    ),
)
