"""The SageMaker training toolkit's environment: SM_* variables and script arguments.

Built exactly as aws/sagemaker-training-toolkit builds them (``environment.py``,
``mapping.py``, ``params.py``), so a script written against the toolkit's
conventions runs unmodified: hyperparameters decoded from their JSON strings,
framework keys (``sagemaker_*``) kept out of ``SM_HPS`` and the command line,
user hyperparameters passed as sorted ``--key value`` arguments.
"""

from __future__ import annotations

import json
import os
from typing import Any

from simulator.hosts.layout import (
    HOST_NAME,
    INSTANCE_GROUP,
    NETWORK_INTERFACE,
    HostLayout,
    input_data_config,
    resource_config,
)

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
