"""Contract of ``dockers/pytorch_bsm/inference.py``, the BSM model's serving handlers.

A serving container, not a job: the PyTorch inference toolkit imports the module from
``/opt/ml/model/code`` (``SAGEMAKER_PROGRAM=inference.py``) and calls its handlers;
requests arrive over HTTP (``/invocations``), so the script's only path is the
model directory, where SageMaker extracts ``model.tar.gz``.
"""

from __future__ import annotations

from contracts.base import ScriptContract

PYTORCH_INFERENCE_CONTRACT = ScriptContract(
    entry_point="inference.py",
    expected_input_paths={
        # The model the step's ModelName names: model.onnx + preprocessor.json.
        "model_name": "/opt/ml/model",
    },
    expected_output_paths={},
    required_env_vars=[],
    optional_env_vars={
        # Column order of header-less CSV rows (default: id, text, numeric, categorical).
        "CSV_COLUMNS": "",
        "OMP_NUM_THREADS": "1",
    },
    expected_arguments={},
    framework_requirements={"onnxruntime": "==1.32.0", "tokenizers": ">=0.15"},
    description=(
        "Serves the BSM classifier: model_fn loads model.onnx (ONNX Runtime) and "
        "preprocessor.json from /opt/ml/model; input_fn takes text/csv (header line or "
        "CSV_COLUMNS order), application/json (rows, {'instances': rows} or JSON Lines) "
        "and application/jsonlines; output_fn answers one probability per class per row "
        "(text/csv, application/jsonlines) or {'predictions': [...]} (application/json)."
    ),
)
