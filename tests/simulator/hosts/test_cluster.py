"""A job's cluster (hosts, instance groups, resourceconfig), host addresses, and the
distribution commands, without running a job."""

from __future__ import annotations

import threading

import pytest

from simulator.errors import ValidationError
from simulator.hosts import distribution, namespace
from simulator.hosts.cluster import Cluster, host_count_problems, max_hosts


def test_instance_groups_number_hosts_across_groups_in_request_order():
    cluster = Cluster.for_training(
        {
            "ResourceConfig": {
                "InstanceGroups": [
                    {"InstanceGroupName": "b", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2},
                    {"InstanceGroupName": "a", "InstanceType": "ml.p3.2xlarge", "InstanceCount": 1},
                ]
            }
        }
    )
    assert cluster.hosts == ["algo-1", "algo-2", "algo-3"]
    rc = cluster.resource_config("algo-3")
    assert (rc["current_host"], rc["current_group_name"], rc["current_instance_type"]) == (
        "algo-3",
        "a",
        "ml.p3.2xlarge",
    )
    assert [g["hosts"] for g in rc["instance_groups"]] == [["algo-1", "algo-2"], ["algo-3"]]


def test_hosts_are_sorted_lexicographically_and_addresses_follow_the_host_number():
    cluster = Cluster.single("ml.m5.large", 11)
    # The toolkit documents the hosts list as sorted lexicographically: algo-10 before algo-2.
    assert cluster.hosts[:3] == ["algo-1", "algo-10", "algo-11"]
    lines = namespace.etc_hosts(cluster.hosts, base="127.0.0.1\tlocalhost\n").splitlines()
    assert "127.0.0.10\talgo-10" in lines and "127.0.0.2\talgo-2" in lines


def test_host_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMSIM_MAX_HOSTS", "3")
    assert max_hosts() == (3, "$SMSIM_MAX_HOSTS")
    assert host_count_problems(3, "x") == []
    (problem,) = host_count_problems(4, "ResourceConfig.InstanceCount")
    assert "at most 3" in str(problem) and "SMSIM_MAX_HOSTS" in str(problem)
    monkeypatch.setenv("SMSIM_MAX_HOSTS", "many")
    with pytest.raises(ValidationError, match="SMSIM_MAX_HOSTS"):
        max_hosts()


def test_torchrun_command_of_one_host_has_no_multinode_options(tmp_path):
    # The toolkit adds --master_addr/--master_port/--node_rank only when there are 2+ hosts.
    argv = distribution.torchrun_argv(
        str(tmp_path / "python"),
        "train.py",
        ["--lr", "0.1"],
        hosts=["algo-1"],
        current_host="algo-1",
        master_addr="algo-1",
        nproc=2,
    )
    assert argv[-7:] == ["--nnodes", "1", "--nproc_per_node", "2", "train.py", "--lr", "0.1"]


def test_processes_per_host_option(monkeypatch):
    monkeypatch.delenv(distribution.NPROC_ENV, raising=False)
    assert distribution.processes_per_host({}) == 1  # CPU: one process per host
    monkeypatch.setenv(distribution.NPROC_ENV, "3")
    assert distribution.processes_per_host({}) == 3
    # The toolkit's own hyperparameter wins over smsim's option.
    assert distribution.processes_per_host({distribution.PROCESSES_PER_HOST: 2}) == 2
    with pytest.raises(ValidationError, match="sagemaker_mpi_num_of_processes_per_host"):
        distribution.processes_per_host({distribution.PROCESSES_PER_HOST: 0})


def test_a_second_multi_host_job_waits_for_the_port_until_the_first_ends():
    first_holds, second_waits, second_got_it = threading.Event(), threading.Event(), []
    release = threading.Event()

    def first() -> None:
        with distribution.port_lock(2, threading.Event(), lambda _: None):
            first_holds.set()
            release.wait(30)

    def second() -> None:
        with distribution.port_lock(2, threading.Event(), lambda _: second_waits.set()):
            second_got_it.append(True)

    a = threading.Thread(target=first)
    a.start()
    assert first_holds.wait(30)
    b = threading.Thread(target=second)
    b.start()
    assert second_waits.wait(30)  # it noted the wait …
    assert second_got_it == []  # … and did not run meanwhile
    release.set()
    a.join(30)
    b.join(30)
    assert second_got_it == [True]
