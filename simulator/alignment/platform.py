"""What the SageMaker platform itself provides to a container: the one documented list.

Alignment level 1 counts an environment variable or a path from this module
as declared by the platform, so a script may use it without its contract
declaring it. Everything else a script reads must be in its contract.

Environment variables, by job type:

- training: the training toolkit's ``SM_*`` family (``environment.py`` /
  ``mapping.py`` of sagemaker-training: ``SM_MODEL_DIR``, ``SM_CHANNEL_<NAME>``,
  ``SM_HP_<NAME>``, ...; smsim also sets ``SM_CHECKPOINT_DIR``), the toolkit's
  ``SAGEMAKER_*`` settings (``SAGEMAKER_BASE_DIR`` overrides ``/opt/ml``),
  ``TRAINING_JOB_NAME`` and ``TRAINING_JOB_ARN`` (set by the service), and the
  variables of PyTorch's distributed launcher (the PyTorch container starts
  the script through ``torchrun``/``torch.distributed``: ``WORLD_SIZE``,
  ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``...).
- processing: ``SAGEMAKER_BASE_DIR`` (smsim sets it for both job types so the
  same scripts run on the host) and ``PROCESSING_JOB_NAME``; the service sets no
  ``SM_*`` variables for processing containers (it describes the job in
  ``/opt/ml/config/processingjobconfig.json`` instead).
- both: ``AWS_REGION``/``AWS_DEFAULT_REGION`` (set in every SageMaker
  container) and the ordinary process variables (``HOME``, ``PATH``, ...).

Platform paths are those SageMaker writes or reads itself; a script may use
them without declaring them (``/opt/ml/output/failure`` → FailureReason,
``/opt/ml/input/config/resourceconfig.json``, ...).
"""

from __future__ import annotations

import posixpath

OPT_ML = "/opt/ml"

# Every job type: the container's region and the ordinary process environment.
_COMMON_ENV: frozenset[str] = frozenset(
    {
        "SAGEMAKER_BASE_DIR",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "HOME",
        "PATH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "TMPDIR",
        "HOSTNAME",
        "USER",
        "LANG",
        "LC_ALL",
    }
)

# Training: set by the service, the training toolkit and the PyTorch launcher.
_TRAINING_ENV: frozenset[str] = frozenset(
    {
        "TRAINING_JOB_NAME",
        "TRAINING_JOB_ARN",
        "SAGEMAKER_PROGRAM",
        "SAGEMAKER_SUBMIT_DIRECTORY",
        "SAGEMAKER_REGION",
        "SAGEMAKER_CONTAINER_LOG_LEVEL",
        "SAGEMAKER_JOB_NAME",
        "SAGEMAKER_TRAINING_MODULE",
        "CURRENT_HOST",
        # torch.distributed / torchrun (the PyTorch container's launcher).
        "WORLD_SIZE",
        "RANK",
        "LOCAL_RANK",
        "LOCAL_WORLD_SIZE",
        "GROUP_RANK",
        "NODE_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
        "TORCHELASTIC_RUN_ID",
    }
)
# The toolkit's families: every SM_<KEY> of the training environment.
_TRAINING_ENV_PREFIXES: tuple[str, ...] = ("SM_",)

_PROCESSING_ENV: frozenset[str] = frozenset({"PROCESSING_JOB_NAME"})

# Values the platform gives path-valued variables (relative to /opt/ml), used to
# resolve a script's paths symbolically. SM_CHANNEL_<NAME> → input/data/<name>.
_TRAINING_PATH_VARS: dict[str, str] = {
    "SAGEMAKER_BASE_DIR": "",
    "SM_MODEL_DIR": "model",
    "SM_INPUT_DIR": "input",
    "SM_INPUT_CONFIG_DIR": "input/config",
    "SM_OUTPUT_DIR": "output",
    "SM_OUTPUT_DATA_DIR": "output/data",
    "SM_OUTPUT_INTERMEDIATE_DIR": "output/intermediate",
    "SM_CHECKPOINT_DIR": "checkpoints",
}
_PROCESSING_PATH_VARS: dict[str, str] = {"SAGEMAKER_BASE_DIR": ""}

# Paths SageMaker itself writes or reads, per job type (relative to /opt/ml).
_TRAINING_PATHS: tuple[str, ...] = (
    "input/config/resourceconfig.json",
    "input/config/inputdataconfig.json",
    "input/config/hyperparameters.json",
    "input/config/checkpointconfig.json",
    "input/config/trainingjobconfig.json",
    "input/config/metric-definition-regex.json",
    "output/failure",
    "output/success",
    "output/intermediate",
    "code",
)
_PROCESSING_PATHS: tuple[str, ...] = (
    "config/processingjobconfig.json",
    "config/resourceconfig.json",
    "output/failure",
    "output/message",
    "processing/input/code",
)


def platform_env_vars(job_type: str) -> frozenset[str]:
    """Exact names of the variables the platform sets for ``job_type`` (training/processing)."""
    if job_type == "training":
        return _COMMON_ENV | _TRAINING_ENV
    if job_type == "processing":
        return _COMMON_ENV | _PROCESSING_ENV
    return _COMMON_ENV | _TRAINING_ENV | _PROCESSING_ENV


def is_platform_env_var(name: str, job_type: str) -> bool:
    """Whether SageMaker (or smsim's stand-in for it) sets ``name`` for ``job_type``."""
    if name in platform_env_vars(job_type):
        return True
    return job_type != "processing" and name.startswith(_TRAINING_ENV_PREFIXES)


def platform_path_var(name: str, job_type: str) -> str | None:
    """The container path the platform gives a path-valued variable, or None."""
    table = _PROCESSING_PATH_VARS if job_type == "processing" else _TRAINING_PATH_VARS
    if name in table:
        return _abs(table[name])
    if job_type != "processing" and name.startswith("SM_CHANNEL_") and len(name) > 11:
        return _abs("input/data/" + name[len("SM_CHANNEL_") :].lower())
    return None


def platform_paths(job_type: str) -> tuple[str, ...]:
    """Absolute container paths SageMaker itself provides or reads for ``job_type``."""
    rel = _PROCESSING_PATHS if job_type == "processing" else _TRAINING_PATHS
    if job_type not in ("training", "processing"):
        rel = _TRAINING_PATHS + _PROCESSING_PATHS
    return tuple(_abs(p) for p in rel)


def _abs(rel: str) -> str:
    return posixpath.join(OPT_ML, rel) if rel else OPT_ML
