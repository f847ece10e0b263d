"""One host's ``/opt/ml`` tree on disk: its paths, config files and base environment.

Each host of a job has a directory, ``<workspace>/jobs/<job>/hosts/algo-k/``, that is
its container's ``/opt/ml``: in namespace mode it is mounted there
(``hosts/namespace.py``); in fallback mode the process is given its real path
(``hosts/shell_remap.py``, ``opt_ml_remap/sitecustomize.py``). The config files are
written as SageMaker writes them; the toolkit's ``SM_*`` variables are ``toolkit.py``'s.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import UnsupportedFeature
from simulator.hosts.cluster import HOMOGENEOUS_GROUP, Cluster, InstanceGroup

CONTAINER_ROOT = "/opt/ml"
HOST_NAME = "algo-1"  # the first host of every job
INSTANCE_GROUP = HOMOGENEOUS_GROUP


class _Subtree:
    """A fixed path of the container layout, ``/opt/ml/<parts>``, under a host's root."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, layout: HostLayout, owner: type | None = None) -> Path:
        return layout.root.joinpath(*self.parts)


@dataclass(frozen=True)
class HostLayout:
    """Paths of one host's ``/opt/ml`` stand-in (``root``), named after SageMaker's
    container layout (training: input/, model/, output/, code/, checkpoints/;
    processing: config/)."""

    root: Path

    input_dir = _Subtree("input")
    input_config_dir = _Subtree("input", "config")
    input_data_dir = _Subtree("input", "data")
    model_dir = _Subtree("model")
    output_dir = _Subtree("output")
    output_data_dir = _Subtree("output", "data")
    output_intermediate_dir = _Subtree("output", "intermediate")
    failure_file = _Subtree("output", "failure")
    code_dir = _Subtree("code")
    checkpoints_dir = _Subtree("checkpoints")
    processing_config_dir = _Subtree("config")

    def channel_dir(self, channel: str) -> Path:
        return self.input_data_dir / channel

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


def resource_config(
    instance_type: str, hosts: list[str] | None = None, current_host: str = HOST_NAME
) -> dict[str, Any]:
    """``resourceconfig.json`` of ``current_host`` in a homogeneous cluster of ``hosts``
    (``hosts/cluster.py`` builds it for any cluster)."""
    group = InstanceGroup(HOMOGENEOUS_GROUP, instance_type, tuple(hosts or [HOST_NAME]))
    return Cluster((group,)).resource_config(current_host)


def input_data_config(
    request: dict[str, Any], channels: list[dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """``inputdataconfig.json``: per channel the fields SageMaker writes there (``channels``:
    the ones this host gets, default all of the request's)."""
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    out: dict[str, dict[str, Any]] = {}
    if channels is None:
        channels = request.get("InputDataConfig", [])
    for channel in channels:
        entry: dict[str, Any] = {}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        mode = channel.get("InputMode", default_mode)
        # The developer guide: FastFile mode writes "File" here (the script reads files).
        entry["TrainingInputMode"] = "File" if mode == "FastFile" else mode
        s3 = channel.get("DataSource", {}).get("S3DataSource", {})
        entry["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        if "CompressionType" in channel:
            entry["CompressionType"] = channel["CompressionType"]
        out[channel["ChannelName"]] = entry
    return out


def write_training_config(
    layout: HostLayout,
    request: dict[str, Any],
    resource: dict[str, Any] | None = None,
    channels: list[dict[str, Any]] | None = None,
) -> None:
    """Create the training tree and its three config files (``resource``: this host's
    resourceconfig.json, default algo-1 of one; ``channels``: the ones it gets)."""
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
    if resource is None:
        resource = resource_config(request.get("ResourceConfig", {}).get("InstanceType", "local"))
    write_json(layout.input_config_dir / "resourceconfig.json", resource)
    write_json(
        layout.input_config_dir / "inputdataconfig.json", input_data_config(request, channels)
    )


def write_processing_config(
    layout: HostLayout, request: dict[str, Any], arn: str, host: str = HOST_NAME
) -> None:
    """``/opt/ml/config/processingjobconfig.json`` (the job's configuration as SageMaker
    writes it there: the CreateProcessingJob request plus its ARN) and ``resourceconfig.json``
    of ``host``."""
    write_json(
        layout.processing_config_dir / "processingjobconfig.json",
        {"ProcessingJobArn": arn, **request},
    )
    write_json(
        layout.processing_config_dir / "resourceconfig.json",
        Cluster.for_processing(request).resource_config(host),
    )


FAILURE_REASON_MAX = 1024  # SageMaker keeps the first 1024 characters of /opt/ml/output/failure
PYTHON_NAMES = {"python", "python3"}


def base_env(
    aws_env: dict[str, str], interpreter: str, code_dir: Path | None, host: str = HOST_NAME
) -> dict[str, str]:
    """The process environment every job starts from (before SM_* and the request's);
    ``code_dir`` as the host's process sees it (the launcher's view)."""
    env = dict(os.environ)
    env.update(aws_env)
    env["CURRENT_HOST"] = host
    env["PYTHONUNBUFFERED"] = "1"  # live log lines, as the containers' images set
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Offline: a job's `pip install` (runproc.sh's) never reaches an index, so it never
    # changes the interpreter other jobs share; hosts/requirements.py checks beforehand.
    env["PIP_NO_INDEX"] = "1"
    # `python` inside a .sh entry point or a subprocess is the image's interpreter.
    bindir = str(Path(interpreter).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if code_dir is not None:
        # The toolkit puts the code dir on sys.path (PYTHONPATH) before running the program.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code_dir), env.get("PYTHONPATH", "")) if p
        )
    return env


def container_argv(entrypoint: list[str], arguments: list[str], interpreter: str) -> list[str]:
    """ContainerEntrypoint + ContainerArguments with ``python``/``python3`` as first word
    replaced by the image's interpreter (paths stay the container's: the launcher maps
    them where no namespace gives the process a real /opt/ml)."""
    argv = [*entrypoint, *arguments]
    if argv and (
        os.path.basename(argv[0]) in PYTHON_NAMES
        or os.path.basename(argv[0]).startswith("python3.")
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
