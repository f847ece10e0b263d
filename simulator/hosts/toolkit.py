"""The SageMaker training toolkit's environment: SM_* variables and script arguments.

Built exactly as aws/sagemaker-training-toolkit builds them (``environment.py``,
``mapping.py``, ``params.py``), so a script written against the toolkit's
conventions runs unmodified: hyperparameters decoded from their JSON strings,
framework keys (``sagemaker_*``) kept out of ``SM_HPS`` and the command line,
user hyperparameters passed as sorted ``--key value`` arguments.

As in the toolkit, one object per host holds it all: ``ToolkitEnvironment`` (the
toolkit's ``Environment``), built once from the request and the host's view of its
tree, with ``env_vars()`` and ``cmd_args()``; ``Hyperparameters`` decodes the
request's strings once for the checks, the run and the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from simulator.hosts.cluster import HOMOGENEOUS_GROUP, NETWORK_INTERFACE
from simulator.hosts.layout import (
    HOST_NAME,
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
# The toolkit's get_distribution_instance_groups_from_resource_config: any of these
# framework keys puts the current group in distribution_instance_groups.
DISTRIBUTION_KEYS = (
    "sagemaker_mpi_enabled",
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    "sagemaker_torch_distributed_enabled",
)


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


# The properties the toolkit's to_env_vars exports under their own name (SM_<NAME>).
_ENV_PROPERTIES = """hosts network_interface_name resource_config input_data_config output_data_dir
current_host current_instance_type current_instance_group current_instance_group_hosts
instance_groups instance_groups_dict distribution_instance_groups is_hetero module_name
log_level framework_module input_dir input_config_dir output_dir num_cpus num_gpus
num_neurons model_dir module_dir output_intermediate_dir""".split()  # noqa: SIM905


@dataclass(frozen=True)
class Hyperparameters:
    """A request's HyperParameters decoded once (the toolkit's read_hyperparameters) and
    split into the framework's ``sagemaker_*`` keys and the user's."""

    framework: dict[str, Any]
    user: dict[str, Any]

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> Hyperparameters:
        framework, user = split_hyperparameters(
            decode_hyperparameters(request.get("HyperParameters", {}))
        )
        return cls(framework, user)

    @property
    def program(self) -> str | None:
        value = self.framework.get("sagemaker_program")
        return None if value is None else str(value)

    @property
    def submit_directory(self) -> Any:
        return self.framework.get("sagemaker_submit_directory")

    @property
    def additional_framework_parameters(self) -> dict[str, Any]:
        return {k: v for k, v in self.framework.items() if k not in SAGEMAKER_HYPERPARAMETERS}


@dataclass(frozen=True)
class ToolkitEnvironment:
    """The training toolkit's ``Environment`` of one host, built once: its properties,
    ``env_vars()`` (``Environment.to_env_vars``) and ``cmd_args()``
    (``Environment.to_cmd_args``: the user hyperparameters as arguments).

    ``layout`` is the host tree as the process sees it (the launcher's view), so the
    paths are ``/opt/ml/...`` in a namespace and the tree's real path in fallback mode.
    """

    layout: HostLayout
    job_name: str
    hyperparameters: Hyperparameters
    resource_config: dict[str, Any]
    input_data_config: dict[str, dict[str, Any]]
    module_dir: str
    num_cpus: int

    @classmethod
    def build(
        cls,
        layout: HostLayout,
        request: dict[str, Any],
        hyperparameters: Hyperparameters,
        *,
        module_dir: str,
        current_host: str = HOST_NAME,
        hosts: list[str] | None = None,
        num_cpus: int | None = None,
        resource: dict[str, Any] | None = None,
        channels: list[dict[str, Any]] | None = None,
    ) -> ToolkitEnvironment:
        """``resource``: the host's resourceconfig.json (default: ``current_host`` of a
        homogeneous cluster of ``hosts``); ``channels``: the channels it gets."""
        if resource is None:
            instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
            resource = resource_config(instance_type, hosts, current_host)
        return cls(
            layout=layout,
            job_name=request["TrainingJobName"],
            hyperparameters=hyperparameters,
            resource_config=resource,
            input_data_config=input_data_config(request, channels),
            module_dir=module_dir,
            num_cpus=num_cpus or os.cpu_count() or 1,
        )

    @property
    def hosts(self) -> list[str]:
        return list(self.resource_config["hosts"])

    @property
    def current_host(self) -> str:
        return str(self.resource_config["current_host"])

    @property
    def module_name(self) -> str | None:
        program = self.hyperparameters.program
        return program[:-3] if program and program.endswith(".py") else program

    @property
    def channel_input_dirs(self) -> dict[str, str]:
        return {name: str(self.layout.channel_dir(name)) for name in self.input_data_config}

    def cmd_args(self) -> list[str]:
        """The script's arguments: user hyperparameters, sorted, ``--key value``."""
        return to_cmd_args(self.hyperparameters.user)

    def distribution_instance_groups(self) -> list[str]:
        """The groups distributed training runs on: the hyperparameter
        ``sagemaker_distribution_instance_groups``, else the current group when a
        distribution key is set (the toolkit's rule)."""
        framework = self.hyperparameters.framework
        if "sagemaker_distribution_instance_groups" in framework:
            return list(framework["sagemaker_distribution_instance_groups"] or [])
        group = self.resource_config.get("current_group_name", HOMOGENEOUS_GROUP)
        return [group] if any(framework.get(k) for k in DISTRIBUTION_KEYS) else []

    def distribution_hosts(self) -> list[str]:
        """Hosts of the distribution groups, in the order resourceconfig lists the groups."""
        wanted = self.distribution_instance_groups()
        return [
            h
            for g in self.resource_config.get("instance_groups", [])
            if g["instance_group_name"] in wanted
            for h in g["hosts"]
        ]

    @property
    def master_hostname(self) -> str:
        """The toolkit's get_master_hostname: the first distribution host, else the first."""
        return (self.distribution_hosts() or self.hosts)[0]

    def properties(self) -> dict[str, Any]:
        """The Environment's properties (a Mapping over them: ``SM_TRAINING_ENV``)."""
        hps = self.hyperparameters
        rc = self.resource_config
        hosts = self.hosts
        groups = rc["instance_groups"]
        group = rc.get("current_group_name", HOMOGENEOUS_GROUP)
        group_hosts = next((g["hosts"] for g in groups if g["instance_group_name"] == group), [])
        layout = self.layout
        return {
            "additional_framework_parameters": hps.additional_framework_parameters,
            "channel_input_dirs": self.channel_input_dirs,
            "current_host": self.current_host,
            "current_instance_group": group,
            "current_instance_group_hosts": group_hosts,
            "current_instance_type": rc["current_instance_type"],
            "distribution_hosts": self.distribution_hosts(),
            "distribution_instance_groups": self.distribution_instance_groups(),
            "framework_module": None,
            "hosts": hosts,
            "hyperparameters": hps.user,
            "input_config_dir": str(layout.input_config_dir),
            "input_data_config": self.input_data_config,
            "input_dir": str(layout.input_dir),
            "instance_groups": [g["instance_group_name"] for g in groups],
            "instance_groups_dict": {g["instance_group_name"]: g for g in groups},
            "is_hetero": len(groups) > 1,
            "is_master": self.current_host == self.master_hostname,
            "is_modelparallel_enabled": None,
            # SageMaker's data-parallel launchers (smddpmprun, smddprun) are not installed.
            "is_smddpmprun_installed": False,
            "is_smddprun_installed": False,
            "job_name": self.job_name,
            "log_level": hps.framework.get("sagemaker_container_log_level", 20),
            "master_hostname": self.master_hostname,
            "model_dir": str(layout.model_dir),
            "module_dir": self.module_dir,
            "module_name": self.module_name,
            "network_interface_name": rc.get("network_interface_name", NETWORK_INTERFACE),
            "num_cpus": self.num_cpus,
            "num_gpus": 0,
            "num_neurons": 0,
            "output_data_dir": str(layout.output_data_dir),
            "output_dir": str(layout.output_dir),
            "output_intermediate_dir": str(layout.output_intermediate_dir),
            "resource_config": rc,
            # Host ↔ capacity unit mappings: only GB200 UltraServers have them.
            "topology": rc.get("topology", []),
            "user_entry_point": hps.program,
        }

    def env_vars(self) -> dict[str, str]:
        """``SM_*`` as the toolkit's ``Environment.to_env_vars`` builds them."""
        props = self.properties()
        # The toolkit's to_env_vars: a few properties under other names, then
        # SM_CHANNEL_<NAME> and SM_HP_<NAME>, then the whole Environment as SM_TRAINING_ENV.
        renamed = {
            "hps": "hyperparameters",
            "framework_params": "additional_framework_parameters",
            "user_entry_point": "user_entry_point",
        }
        env_map: dict[str, Any] = {name: props[key] for name, key in renamed.items()}
        env_map.update({key: props[key] for key in _ENV_PROPERTIES})
        env_map["channels"] = sorted(props["channel_input_dirs"])
        env_map["training_env"] = props
        env_map["user_args"] = self.cmd_args()
        for name, path in props["channel_input_dirs"].items():
            env_map[f"channel_{name}"] = path
        for key, value in props["hyperparameters"].items():
            env_map[f"hp_{key}"] = value
        return to_env_vars(env_map)
