"""Contract of ``dockers/pytorch_bsm/inference.py``, the BSM model's serving handlers."""

from __future__ import annotations

from contracts.base import ServingScriptContract

PYTORCH_INFERENCE_CONTRACT = ServingScriptContract(
    entry_point="inference.py",
    # The model server extracts model.tar.gz to /opt/ml/model and passes that directory
    # to model_fn (model.onnx and preprocessor.json, written by train.py): no fixed path
    # of the script's own; the records arrive as requests.
    expected_input_paths={},
    expected_output_paths={},
    required_env_vars=[],
    optional_env_vars={
        # Column order of headerless CSV records (default: the training data's, no label).
        "CSV_COLUMNS": "",
        # ONNX Runtime's intra-op threads.
        "OMP_NUM_THREADS": "1",
    },
    expected_arguments={},
    framework_requirements={"onnxruntime": ""},
    description=(
        "Serves the trained BSM model: model_fn loads model.onnx and preprocessor.json from "
        "/opt/ml/model; input_fn takes text/csv (with a header line, or in CSV_COLUMNS order), "
        "application/json or JSON Lines rows; output_fn answers class probabilities as "
        "text/csv, application/json or application/jsonlines."
    ),
)
