"""A job's cluster: its hosts ``algo-1 … algo-N``, their instance groups and each host's
``resourceconfig.json``.

SageMaker's rules followed (developer guide, "How Amazon SageMaker Provides Training
Information" and "Configure heterogeneous clusters"; the training toolkit's
``environment.py`` reads them back):

* ``ResourceConfig.InstanceCount`` N (``ProcessingResources.ClusterConfig.InstanceCount``
  for processing) → hosts ``algo-1`` … ``algo-N``, every host one instance of
  ``InstanceType``, all in the group ``homogeneousCluster``;
* ``ResourceConfig.InstanceGroups`` (a heterogeneous cluster) → hosts numbered on across
  the groups in the request's order: ``[{"InstanceGroupName": "a", "InstanceCount": 2},
  {"InstanceGroupName": "b", "InstanceCount": 1}]`` is ``a: algo-1, algo-2``,
  ``b: algo-3``;
* each host's ``resourceconfig.json`` has its own ``current_host``,
  ``current_instance_type`` and ``current_group_name``, and the same ``hosts`` (sorted
  lexicographically, as the toolkit documents), ``instance_groups`` and
  ``network_interface_name``;
* a channel with ``S3DataSource.InstanceGroupNames`` reaches only the hosts of those
  groups (``channels_for``).

Every host of a job is a process of this machine: ``max_hosts()`` is the guard (see
``MAX_HOSTS_ENV``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from simulator.errors import Problem, ValidationError

HOMOGENEOUS_GROUP = "homogeneousCluster"  # the toolkit's name for a single-group cluster
NETWORK_INTERFACE = "eth0"
MAX_HOSTS_ENV = "SMSIM_MAX_HOSTS"
# 127.0.0.k for algo-k: the private /etc/hosts gives each host a loopback address.
LOOPBACK_LIMIT = 254
DEFAULT_MAX_HOSTS_FLOOR = 8


def max_hosts() -> tuple[int, str]:
    """(the most hosts one job may have on this machine, where the figure comes from).

    Each host is a full process (an interpreter, the script, its data loaders): by
    default at most ``max(8, os.cpu_count())``; ``$SMSIM_MAX_HOSTS`` raises or lowers it
    (at most 254: one loopback address per host)."""
    raw = os.environ.get(MAX_HOSTS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= LOOPBACK_LIMIT:
            raise ValidationError(
                "smsim settings",
                [
                    Problem(
                        f"${MAX_HOSTS_ENV}",
                        f"must be a whole number from 1 to {LOOPBACK_LIMIT}",
                        raw,
                        f"e.g. {MAX_HOSTS_ENV}=16",
                    )
                ],
            )
        return value, f"${MAX_HOSTS_ENV}"
    return max(DEFAULT_MAX_HOSTS_FLOOR, os.cpu_count() or 1), "the default max(8, CPU count)"


@dataclass(frozen=True)
class InstanceGroup:
    name: str
    instance_type: str
    hosts: tuple[str, ...]

    def as_config(self) -> dict[str, Any]:
        """The group as ``resourceconfig.json``'s ``instance_groups`` lists it."""
        return {
            "instance_group_name": self.name,
            "instance_type": self.instance_type,
            "hosts": list(self.hosts),
        }


@dataclass(frozen=True)
class Cluster:
    """The hosts of one job and their groups."""

    groups: tuple[InstanceGroup, ...]
    heterogeneous: bool = False  # from ResourceConfig.InstanceGroups

    @classmethod
    def single(cls, instance_type: str = "local", count: int = 1) -> Cluster:
        hosts = tuple(f"algo-{k}" for k in range(1, count + 1))
        return cls((InstanceGroup(HOMOGENEOUS_GROUP, instance_type, hosts),))

    @classmethod
    def for_training(cls, request: dict[str, Any]) -> Cluster:
        """The cluster a CreateTrainingJob request asks for (``ResourceConfig``)."""
        res = request.get("ResourceConfig", {})
        if res.get("InstanceGroups"):
            groups: list[InstanceGroup] = []
            k = 1
            for group in res["InstanceGroups"]:
                count = int(group["InstanceCount"])
                hosts = tuple(f"algo-{i}" for i in range(k, k + count))
                k += count
                groups.append(
                    InstanceGroup(group["InstanceGroupName"], group["InstanceType"], hosts)
                )
            return cls(tuple(groups), heterogeneous=True)
        return cls.single(res.get("InstanceType", "local"), int(res.get("InstanceCount", 1)))

    @classmethod
    def for_processing(cls, request: dict[str, Any]) -> Cluster:
        cluster = request["ProcessingResources"]["ClusterConfig"]
        return cls.single(
            cluster.get("InstanceType", "local"), int(cluster.get("InstanceCount", 1))
        )

    @property
    def hosts(self) -> list[str]:
        """Every host, sorted lexicographically (``algo-1, algo-10, algo-2`` …) as SageMaker
        lists them: the first is the toolkit's master."""
        return sorted(h for g in self.groups for h in g.hosts)

    def group_of(self, host: str) -> InstanceGroup:
        for group in self.groups:
            if host in group.hosts:
                return group
        raise KeyError(host)

    def resource_config(self, host: str) -> dict[str, Any]:
        """``/opt/ml/input/config/resourceconfig.json`` of ``host``."""
        group = self.group_of(host)
        return {
            "current_host": host,
            "current_instance_type": group.instance_type,
            "current_group_name": group.name,
            "hosts": self.hosts,
            "instance_groups": [g.as_config() for g in self.groups],
            "network_interface_name": NETWORK_INTERFACE,
        }

    def channels_for(self, host: str, channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The channels ``host`` gets: those without ``InstanceGroupNames`` and those naming
        its group (S3DataSource.InstanceGroupNames: "a list of names of instance groups
        that get data from the S3 data source")."""
        group = self.group_of(host).name
        out = []
        for channel in channels:
            names = channel.get("DataSource", {}).get("S3DataSource", {}).get("InstanceGroupNames")
            if not names or group in names:
                out.append(channel)
        return out


def host_count_problems(count: int, where: str) -> list[Problem]:
    """The guard: a job may not ask for more hosts than this machine is set to hold."""
    limit, source = max_hosts()
    if count <= limit:
        return []
    return [
        Problem(
            where,
            f"{count} hosts asked for; smsim runs every host as a process on this machine and "
            f"allows at most {limit} per job ({source})",
            count,
            f"ask for at most {limit} instances, or raise the limit: {MAX_HOSTS_ENV}=<n> "
            f"(up to {LOOPBACK_LIMIT})",
        )
    ]


def instance_group_problems(request: dict[str, Any]) -> list[Problem]:
    """What the service checks of ``ResourceConfig.InstanceGroups`` beyond botocore: group
    names unique, no InstanceType/InstanceCount beside them, every channel's
    ``InstanceGroupNames`` naming a group of the job."""
    res = request.get("ResourceConfig", {})
    groups = res.get("InstanceGroups") or []
    problems: list[Problem] = []
    names = [g.get("InstanceGroupName") for g in groups]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem(
                "ResourceConfig.InstanceGroups",
                "duplicate InstanceGroupName",
                dup,
                "name each instance group once",
            )
        )
    if groups and (res.get("InstanceType") or int(res.get("InstanceCount", 0) or 0) > 0):
        problems.append(
            Problem(
                "ResourceConfig",
                "InstanceType/InstanceCount given together with InstanceGroups",
                {k: res[k] for k in ("InstanceType", "InstanceCount") if k in res},
                "give either InstanceType + InstanceCount or InstanceGroups, not both",
            )
        )
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        s3 = channel.get("DataSource", {}).get("S3DataSource", {})
        for name in s3.get("InstanceGroupNames") or []:
            if name not in names:
                problems.append(
                    Problem(
                        f"InputDataConfig[{i}].DataSource.S3DataSource.InstanceGroupNames",
                        "names no instance group of ResourceConfig.InstanceGroups",
                        name,
                        f"use one of {names}" if names else "remove it (no InstanceGroups)",
                    )
                )
    return problems
