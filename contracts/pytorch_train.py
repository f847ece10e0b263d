"""Contract of ``dockers/pytorch_bsm/train.py``, the PyTorch BSM training script."""

from __future__ import annotations

from contracts.base import TrainingScriptContract

PYTORCH_TRAIN_CONTRACT = TrainingScriptContract(
    entry_point="train.py",
    expected_input_paths={
        # SageMaker mounts one directory per channel under input/data; train.py
        # reads the channels train, val and test (val and test for evaluation).
        "input_path": "/opt/ml/input/data",
        # The training toolkit writes the job's HyperParameters here.
        "config": "/opt/ml/input/config/hyperparameters.json",
    },
    expected_output_paths={
        "model_output": "/opt/ml/model",  # packed into model.tar.gz by SageMaker
        "data_output": "/opt/ml/output/data",  # packed into output.tar.gz
        "checkpoints": "/opt/ml/checkpoints",  # CheckpointConfig.LocalPath's default
    },
    required_env_vars=[],
    # SAGEMAKER_BASE_DIR is read too, but the platform sets it (the toolkit's
    # override of /opt/ml), so it is not part of the script's contract.
    optional_env_vars={
        "SM_CHECKPOINT_DIR": "/opt/ml/checkpoints",
        "WORLD_SIZE": "1",
        "RANK": "0",
        "LOCAL_RANK": "0",
    },
    expected_arguments={},
    framework_requirements={"torch": "==2.13.0"},
    # train.py prints `epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…` each epoch;
    # SageMaker keeps the last match of each regex in FinalMetricDataList.
    metric_definitions=[
        {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
        {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
        {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
        {"Name": "val:f1", "Regex": r"val_f1=([0-9\.]+)"},
    ],
    description=(
        "Trains a PyTorch BSM classifier. Reads the channels train, val and test under "
        "/opt/ml/input/data/<channel>/ and every hyperparameter from "
        "/opt/ml/input/config/hyperparameters.json (no command-line arguments are "
        "needed: defaults match the synthetic data's columns, so max_epochs, model_class "
        "and lr suffice). Writes the model to /opt/ml/model, evaluation data to "
        "/opt/ml/output/data and checkpoints to /opt/ml/checkpoints; prints "
        "'epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…' for metric definitions."
    ),
)
