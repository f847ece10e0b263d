"""The test Ray cluster itself (#19): what the Ray backend's tests rely on.

Three nodes on loopback, a head that takes no work, two workers each holding exactly
one ml.m5.xlarge host, tasks that really run on the node they are sent to, a killed
worker that the cluster loses, and the clean-up of a cluster whose pytest died.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip("ray", reason="the Ray backend's extra: pip install 'smsim[ray]'")

# Each placement: the node a task ran on and its worker process's parent (the raylet
# that started it; the worker process itself may end with the driver).
WHERE = """
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

@ray.remote(num_cpus=1)
def where():
    import os
    return ray.get_runtime_context().get_node_id(), os.getppid()

result = [
    ray.get(where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
            .remote())
    for n in {node_ids!r}
]
"""


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual socket
    return (mapped or address).is_loopback


def test_three_nodes_alive_on_loopback(ray_cluster: Any) -> None:
    alive = {n["NodeID"]: n for n in ray_cluster.alive_nodes()}
    nodes = [ray_cluster.head, *ray_cluster.workers]
    assert sorted(alive) == sorted(n.node_id for n in nodes)
    for node in nodes:
        assert alive[node.node_id]["NodeManagerAddress"] == node.ip
        assert node.ip.startswith("127.")
    assert len({n.ip for n in nodes}) == 3
    # Nothing of the cluster talks beyond loopback.
    for proc in (p for node in nodes for p in node.processes()):
        with contextlib.suppress(psutil.NoSuchProcess):
            remote = [c.raddr.ip for c in proc.net_connections(kind="inet") if c.raddr]
            assert all(_loopback(ip) for ip in remote), (proc.name(), remote)
    # The head takes no work: jobs land on the workers.
    assert alive[ray_cluster.head.node_id]["Resources"].get("CPU", 0) == 0
    for worker in ray_cluster.workers:
        assert alive[worker.node_id]["Resources"]["CPU"] == 4


def test_a_task_sent_to_each_worker_runs_there(ray_cluster: Any) -> None:
    workers = ray_cluster.workers
    ran = ray_cluster.driver(WHERE.format(node_ids=[w.node_id for w in workers]))
    for worker, (node_id, parent) in zip(workers, ran, strict=True):
        assert node_id == worker.node_id
        assert parent in {p.pid for p in worker.processes()}


def test_two_m5_xlarge_hosts_spread_over_the_workers_and_a_third_waits(
    ray_cluster: Any,
) -> None:
    from simulator.hosts.ray_resources import ray_resources

    host = ray_resources("ml.m5.xlarge")
    bundle = {"CPU": host["num_cpus"], "memory": host["memory"]}
    placed = ray_cluster.driver(
        f"""
from ray.util.placement_group import placement_group, remove_placement_group
pg = placement_group([{bundle!r}] * 2, strategy="STRICT_SPREAD")
ready = pg.wait(timeout_seconds=30)
nodes = sorted(ray.util.placement_group_table(pg)["bundles_to_node_id"].values())
third = placement_group([{bundle!r}])
third_waits = not third.wait(timeout_seconds=2)
remove_placement_group(pg)
third_placed_after = third.wait(timeout_seconds=30)
remove_placement_group(third)
result = [ready, nodes, third_waits, third_placed_after]
"""
    )
    ready, nodes, third_waits, third_placed_after = placed
    assert ready
    assert nodes == sorted(w.node_id for w in ray_cluster.workers)
    # Each worker holds one such host: a third waits until the first two are gone.
    assert third_waits and third_placed_after


def test_a_killed_worker_leaves_two_nodes_alive(killable_ray_cluster: Any) -> None:
    cluster = killable_ray_cluster
    victim, survivor = cluster.workers
    victim.kill()
    assert victim.processes() == []
    alive = cluster.wait_for_alive(2, timeout=60)
    assert sorted(n["NodeID"] for n in alive) == sorted([cluster.head.node_id, survivor.node_id])


def test_a_dead_owners_cluster_is_reaped_and_a_live_ones_kept(tmp_path: Path) -> None:
    from tests.ray_cluster import OWNER, reap_orphans

    def fake_cluster(name: str, owner: dict[str, Any]) -> tuple[Path, subprocess.Popen]:
        root = tmp_path / name
        (root / "w1").mkdir(parents=True)
        (root / OWNER).write_text(json.dumps(owner))
        # A stand-in node process: its command line names the node's temp dir, as Ray's do.
        code = "import sys, time; time.sleep(60)"
        return root, subprocess.Popen([sys.executable, "-c", code, f"--temp-dir={root}/w1"])

    me = psutil.Process()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_root, orphan = fake_cluster("smsim-ray-dead", {"pid": gone.pid, "started": 0.0})
    live_root, kept = fake_cluster("smsim-ray-live", {"pid": me.pid, "started": me.create_time()})
    try:
        assert reap_orphans(tmp_path) == [dead_root]
        assert orphan.wait(timeout=10) is not None and not dead_root.exists()
        assert kept.poll() is None and live_root.exists()
    finally:
        for proc in (orphan, kept):
            proc.kill()
            proc.wait()
