"""The fake ``/opt/ml`` tree of one host: paths, config files and the SM_* environment.

A host directory stands in for the container's ``/opt/ml``; scripts find it
through ``SAGEMAKER_BASE_DIR`` (the training toolkit's own override of
``/opt/ml``, environment.py) and the ``SM_*`` variables built here exactly as
aws/sagemaker-training-toolkit's ``environment.py`` and ``mapping.py`` build
them. A script that hard-codes ``/opt/ml`` cannot be remapped without a
container; ``/opt/ml/...`` in ContainerEntrypoint/ContainerArguments is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import Problem, UnsupportedFeature, ValidationError

CONTAINER_ROOT = "/opt/ml"
HOST_NAME = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"  # the toolkit's name for a single-group cluster
NETWORK_INTERFACE = "eth0"

# The toolkit's SAGEMAKER_HYPERPARAMETERS (params.py): framework keys kept out of SM_HPS
# and of the script's command line, whatever their prefix.
SAGEMAKER_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
SAGEMAKER_PREFIX = "sagemaker_"


@dataclass(frozen=True)
class HostLayout:
    """Paths of one host's ``/opt/ml`` stand-in (``root``)."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def input_config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def input_data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.input_data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def output_intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def processing_config_dir(self) -> Path:
        return self.root / "config"

    def host_path(self, container_path: str, field: str = "path") -> Path:
        """Map an absolute ``/opt/ml/...`` container path to this host directory."""
        mapped = map_container_path(container_path, self.root)
        if mapped is None:
            raise UnsupportedFeature(
                f"{field}: {container_path!r} is outside {CONTAINER_ROOT}; without a container "
                f"smsim can only place files under {CONTAINER_ROOT} (mapped to {self.root}). "
                f"Use a path under {CONTAINER_ROOT}/"
            )
        return mapped


def map_container_path(path: str, root: Path) -> Path | None:
    """``/opt/ml/x/y`` → ``root/x/y``; None when ``path`` is not under ``/opt/ml``."""
    norm = os.path.normpath(path)
    if norm == CONTAINER_ROOT:
        return root
    if norm.startswith(CONTAINER_ROOT + "/"):
        return root / norm[len(CONTAINER_ROOT) + 1 :]
    return None


def rewrite_argument(arg: str, root: Path) -> str:
    """Rewrite an argument that is a ``/opt/ml/...`` path to the host dir; others unchanged."""
    if arg == CONTAINER_ROOT or arg.startswith(CONTAINER_ROOT + "/"):
        mapped = map_container_path(arg, root)
        if mapped is not None:
            return str(mapped) + ("/" if arg.endswith("/") and arg != CONTAINER_ROOT else "")
    return arg


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def resource_config(instance_type: str, hosts: list[str] | None = None) -> dict[str, Any]:
    """``resourceconfig.json`` as SageMaker writes it for host algo-1."""
    hosts = hosts or [HOST_NAME]
    return {
        "current_host": HOST_NAME,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": instance_type, "hosts": hosts}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``inputdataconfig.json``: per channel the fields SageMaker writes there."""
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    out: dict[str, dict[str, Any]] = {}
    for channel in request.get("InputDataConfig", []):
        entry: dict[str, Any] = {}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        entry["TrainingInputMode"] = channel.get("InputMode", default_mode)
        s3 = channel.get("DataSource", {}).get("S3DataSource", {})
        entry["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        if "CompressionType" in channel:
            entry["CompressionType"] = channel["CompressionType"]
        out[channel["ChannelName"]] = entry
    return out


def write_training_config(layout: HostLayout, request: dict[str, Any]) -> None:
    """Create the training tree and its three config files."""
    for d in (
        layout.input_config_dir,
        layout.input_data_dir,
        layout.model_dir,
        layout.output_data_dir,
        layout.output_intermediate_dir,
        layout.code_dir,
        layout.checkpoints_dir,
    ):
        d.mkdir(parents=True, exist_ok=True)
    # The request's string values, verbatim: decoding is the toolkit's job, not ours.
    write_json(layout.input_config_dir / "hyperparameters.json", request.get("HyperParameters", {}))
    instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
    write_json(layout.input_config_dir / "resourceconfig.json", resource_config(instance_type))
    write_json(layout.input_config_dir / "inputdataconfig.json", input_data_config(request))


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """The toolkit's read_hyperparameters: json.loads each value, raw string if that fails."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except (ValueError, TypeError):
            out[key] = value
    return out


def split_hyperparameters(decoded: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(framework, user) as the toolkit's split_by_criteria with its key list and prefix."""
    framework = {
        k: v
        for k, v in decoded.items()
        if k in SAGEMAKER_HYPERPARAMETERS or k.startswith(SAGEMAKER_PREFIX)
    }
    user = {k: v for k, v in decoded.items() if k not in framework}
    return framework, user


def to_cmd_args(mapping: dict[str, Any]) -> list[str]:
    """The toolkit's mapping.to_cmd_args: sorted keys, ``--key value`` (``-k`` for one letter)."""
    args: list[str] = []
    for key in sorted(mapping):
        name = str(key)
        args.append(f"--{name}" if len(name) > 1 else f"-{name}")
        value = mapping[key]
        if hasattr(value, "items"):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def to_env_vars(mapping: dict[str, Any]) -> dict[str, str]:
    """The toolkit's mapping.to_env_vars: ``SM_<KEY>``; str as is, None → "", else compact JSON."""

    def value(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bytes):
            return v.decode("latin1")
        if isinstance(v, str):
            return v
        return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    return {f"SM_{str(k).upper()}": value(v) for k, v in mapping.items() if k}


def training_environment(
    layout: HostLayout,
    request: dict[str, Any],
    *,
    module_dir: str,
    num_cpus: int | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The SM_* variables and the user arguments of the toolkit's Environment.

    Returns ``(env, user_args)``: env as ``Environment.to_env_vars()`` builds it,
    user_args as ``Environment.to_cmd_args()`` (user hyperparameters only).
    """
    decoded = decode_hyperparameters(request.get("HyperParameters", {}))
    framework, user = split_hyperparameters(decoded)
    additional = {k: v for k, v in framework.items() if k not in SAGEMAKER_HYPERPARAMETERS}
    instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
    rc = resource_config(instance_type)
    idc = input_data_config(request)
    hosts = rc["hosts"]
    program = framework.get("sagemaker_program")
    module_name = program[:-3] if isinstance(program, str) and program.endswith(".py") else program
    channels = {name: str(layout.channel_dir(name)) for name in idc}
    groups = rc["instance_groups"]
    num_cpus = num_cpus or os.cpu_count() or 1
    user_args = to_cmd_args(user)
    # Properties of the toolkit's Environment (a Mapping over its properties): SM_TRAINING_ENV.
    training_env: dict[str, Any] = {
        "additional_framework_parameters": additional,
        "channel_input_dirs": channels,
        "current_host": HOST_NAME,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_group_hosts": hosts,
        "current_instance_type": instance_type,
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": None,
        "hosts": hosts,
        "hyperparameters": user,
        "input_config_dir": str(layout.input_config_dir),
        "input_data_config": idc,
        "input_dir": str(layout.input_dir),
        "instance_groups": [g["instance_group_name"] for g in groups],
        "instance_groups_dict": {g["instance_group_name"]: g for g in groups},
        "is_hetero": False,
        "is_master": True,
        "is_modelparallel_enabled": None,
        "job_name": request["TrainingJobName"],
        "log_level": framework.get("sagemaker_container_log_level", 20),
        "master_hostname": hosts[0],
        "model_dir": str(layout.model_dir),
        "module_dir": module_dir,
        "module_name": module_name,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": num_cpus,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": str(layout.output_data_dir),
        "output_dir": str(layout.output_dir),
        "output_intermediate_dir": str(layout.output_intermediate_dir),
        "resource_config": rc,
        "user_entry_point": program,
    }
    env_map: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": NETWORK_INTERFACE,
        "hps": user,
        "user_entry_point": program,
        "framework_params": additional,
        "resource_config": rc,
        "input_data_config": idc,
        "output_data_dir": str(layout.output_data_dir),
        "channels": sorted(channels),
        "current_host": HOST_NAME,
        "current_instance_type": instance_type,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_group_hosts": hosts,
        "instance_groups": training_env["instance_groups"],
        "instance_groups_dict": training_env["instance_groups_dict"],
        "distribution_instance_groups": [],
        "is_hetero": False,
        "module_name": module_name,
        "log_level": training_env["log_level"],
        "framework_module": None,
        "input_dir": str(layout.input_dir),
        "input_config_dir": str(layout.input_config_dir),
        "output_dir": str(layout.output_dir),
        "num_cpus": num_cpus,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": str(layout.model_dir),
        "module_dir": module_dir,
        "training_env": training_env,
        "user_args": user_args,
        "output_intermediate_dir": str(layout.output_intermediate_dir),
    }
    for name, path in channels.items():
        env_map[f"channel_{name}"] = path
    for key, value in user.items():
        env_map[f"hp_{key}"] = value
    env = to_env_vars(env_map)
    return env, user_args


def processing_config(request: dict[str, Any]) -> dict[str, Any]:
    """``/opt/ml/config/processingjobconfig.json``: the CreateProcessingJob request as given
    (SageMaker writes the job's configuration there; RoleArn and Tags included)."""
    return {k: v for k, v in request.items()}


def write_processing_config(layout: HostLayout, request: dict[str, Any]) -> None:
    cluster = request["ProcessingResources"]["ClusterConfig"]
    count = int(cluster.get("InstanceCount", 1))
    hosts = [f"algo-{i}" for i in range(1, count + 1)]
    write_json(
        layout.processing_config_dir / "processingjobconfig.json", processing_config(request)
    )
    write_json(
        layout.processing_config_dir / "resourceconfig.json",
        resource_config(cluster.get("InstanceType", "local"), hosts),
    )


def single_instance(count: int, field: str) -> None:
    """Refuse more than one instance: smsim runs one host per job for now."""
    if count != 1:
        raise UnsupportedFeature(
            f"{field} is {count}: smsim runs one instance (algo-1) per job; "
            "set it to 1 (multi-host jobs are not simulated yet)"
        )


def problem(path: str, message: str, value: Any = None, fix: str = "") -> ValidationError:
    """One-problem ValidationError, for request checks beyond the botocore model."""
    return ValidationError("request", [Problem(path, message, value, fix)])


FAILURE_REASON_MAX = 1024  # SageMaker keeps the first 1024 characters of /opt/ml/output/failure
PYTHON_NAMES = {"python", "python3"}


def base_env(
    aws_env: dict[str, str], layout: HostLayout, interpreter: str, code_dir: Path | None
) -> dict[str, str]:
    """The process environment every job starts from (before SM_* and the request's)."""
    env = dict(os.environ)
    env.update(aws_env)
    env["SAGEMAKER_BASE_DIR"] = str(layout.root)
    env["CURRENT_HOST"] = "algo-1"
    env["PYTHONUNBUFFERED"] = "1"  # live log lines, as the containers' images set
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # `python` inside a .sh entry point or a subprocess is the image's interpreter.
    bindir = str(Path(interpreter).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if code_dir is not None:
        # The toolkit puts the code dir on sys.path (PYTHONPATH) before running the program.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code_dir), env.get("PYTHONPATH", "")) if p
        )
    # Scripts that hard-code /opt/ml (the SDK's _repack_model.py) reach the host dir through
    # simulator/opt_ml_remap/sitecustomize.py, as a container's mount would take them there.
    env["SMSIM_OPT_ML_ROOT"] = str(layout.root)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (env.get("PYTHONPATH", ""), str(Path(__file__).parent / "opt_ml_remap")) if p
    )
    return env


def container_argv(
    entrypoint: list[str], arguments: list[str], layout: HostLayout, interpreter: str
) -> list[str]:
    """ContainerEntrypoint + ContainerArguments with /opt/ml paths mapped to the host dir
    and ``python``/``python3`` as first word replaced by the image's interpreter."""
    argv = [rewrite_argument(a, layout.root) for a in [*entrypoint, *arguments]]
    if (
        argv
        and os.path.basename(argv[0]) in PYTHON_NAMES
        or (argv and os.path.basename(argv[0]).startswith("python3."))
    ):
        argv[0] = interpreter
    return argv


def failure_reason(
    layout: HostLayout, exit_code: int | None, tail: list[str], argv: list[str]
) -> str:
    """FailureReason: the failure file's first 1024 characters, else exit code + stderr tail
    (the shape of the toolkit's ExecuteUserScriptError)."""
    failure = layout.failure_file
    if failure.is_file():
        text = failure.read_text(errors="replace").strip()
        if text:
            return text[:FAILURE_REASON_MAX]
    message = "\n".join(tail[-10:])
    reason = (
        f"AlgorithmError: ExecuteUserScriptError:\nExitCode {exit_code}\n"
        f'ErrorMessage "{message}"\nCommand "{" ".join(argv)}", exit code: {exit_code}'
    )
    if len(reason) > FAILURE_REASON_MAX:
        # keep the end: the exception is the last line of a traceback
        head = f"AlgorithmError: ExecuteUserScriptError: ExitCode {exit_code}; … "
        reason = head + reason[-(FAILURE_REASON_MAX - len(head)) :]
    return reason


def clip(text: str, limit: int = FAILURE_REASON_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
