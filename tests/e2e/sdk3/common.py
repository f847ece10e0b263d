"""Constants and helpers of the SDK v3 tests: what a new v3 user has, and nothing more.

The user's environment is the one ``LocalSageMaker`` exports (``AWS_ENDPOINT_URL``, a
region, dummy credentials), plus one SDK defaults file (``SAGEMAKER_USER_CONFIG_OVERRIDE``,
the SDK's documented switch) naming the default bucket: without it the SDK derives
``sagemaker-<region>-<account>`` by calling STS at the explicit URL
``https://sts.<region>.amazonaws.com`` (``sts_regional_endpoint``), which bypasses
``AWS_ENDPOINT_URL``. The tests build no SageMaker session or client of their own unless
a v3 user must (``PipelineSession`` for pipeline steps).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
BSM = ROOT / "dockers" / "pytorch_bsm"
BUCKET = "smsim-sdk3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
PROCESSING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bsm-processing:latest"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # 2 shared CPU cores
# The BSM script's per-epoch and final lines (dockers/pytorch_bsm/README.md).
METRICS = {
    "val:auroc": r"val_auroc=([0-9\.]+)",
    "test:auroc": r"test_auroc=([0-9\.]+)",
}
# The SDK's defaults file (same schema in v2 and v3); telemetry off: the machine is offline.
SDK_CONFIG = f"""\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session:
        DefaultS3Bucket: {BUCKET}
      TelemetryOptOut: true
"""


def missing_simulator_parts() -> list[str]:
    """What smsim must have before v3's ModelTrainer can run unmodified (issue #11, req. 4).

    - ModelTrainer's constructor (and its bucket check) calls IAM SimulatePrincipalPolicy
      on the role; moto answers HTTP 500 and the SDK raises ResponseParserError.
    - Its job runs ``/bin/bash -c "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh
      && …"``: the container path inside a shell string.
    """
    missing = []
    if importlib.util.find_spec("simulator.endpoint") is None:
        missing.append("IAM SimulatePrincipalPolicy/GetRole answered (simulator.endpoint)")
    if importlib.util.find_spec("simulator.hosts.namespace") is None:
        missing.append("/opt/ml seen by shell strings (simulator.hosts.namespace)")
    return missing


MISSING = missing_simulator_parts()
needs_v3_support = pytest.mark.skipif(bool(MISSING), reason="smsim lacks: " + "; ".join(MISSING))


def metric_definitions() -> list[Any]:
    from sagemaker.core.shapes import MetricDefinition

    return [MetricDefinition(name=name, regex=regex) for name, regex in METRICS.items()]
