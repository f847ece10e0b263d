"""Instance type → Ray resource request (#19), checked against facts from outside smsim.

The figures come from three independent places: botocore's SageMaker model (which
instance types exist), the SageMaker Python SDK v2's own instance data (GPU counts per
type, vCPUs of its GPU types) and AWS's published instance specifications, quoted below
with their source.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.errors import ValidationError
from simulator.hosts.ray_resources import (
    ENV,
    instance_types,
    load_overrides,
    markdown_table,
    ray_resources,
    uncovered_types,
)
from simulator.shapes import enum_values

REPO = Path(__file__).resolve().parents[3]
GiB = 1024**3

# (vCPUs, memory GiB, GPUs) from AWS's published specifications:
# - GPU types: the AWS Batch user guide's "GPU jobs" table (docs.aws.amazon.com/batch/
#   latest/userguide/gpu-jobs.html), which quotes EC2's G4dn/G5/G6 pages; P3 from the
#   P3 launch post (p3.16xlarge: 8 V100, 64 vCPUs, 488 GiB).
# - CPU types: EC2's instance type pages (aws.amazon.com/ec2/instance-types/).
AWS_FACTS = {
    "ml.g4dn.xlarge": (4, 16, 1),
    "ml.g4dn.12xlarge": (48, 192, 4),
    "ml.g4dn.16xlarge": (64, 256, 1),
    "ml.g5.xlarge": (4, 16, 1),
    "ml.g5.12xlarge": (48, 192, 4),
    "ml.g5.48xlarge": (192, 768, 8),
    "ml.g6.4xlarge": (16, 64, 1),
    "ml.p3.2xlarge": (8, 61, 1),
    "ml.p3.16xlarge": (64, 488, 8),
    "ml.m5.large": (2, 8, 0),
    "ml.m5.xlarge": (4, 16, 0),
    "ml.m5.24xlarge": (96, 384, 0),
    "ml.m4.10xlarge": (40, 160, 0),
    "ml.c5.xlarge": (4, 8, 0),
    "ml.c5.9xlarge": (36, 72, 0),
    "ml.c5.18xlarge": (72, 144, 0),
    "ml.c4.8xlarge": (36, 60, 0),
    "ml.c5n.xlarge": (4, 10.5, 0),
    "ml.r5.large": (2, 16, 0),
    "ml.r5.24xlarge": (96, 768, 0),
    "ml.t3.large": (2, 8, 0),
    "ml.t3.2xlarge": (8, 32, 0),
}


def test_every_training_and_processing_instance_type_has_a_request() -> None:
    known = set(enum_values("TrainingInstanceType")) | set(enum_values("ProcessingInstanceType"))
    assert set(instance_types()) == known
    assert uncovered_types() == []
    for instance_type in known:
        res = ray_resources(instance_type)
        assert set(res) == {"num_cpus", "num_gpus", "memory"}
        assert res["num_cpus"] >= 1 and res["num_gpus"] >= 0
        assert isinstance(res["memory"], int) and res["memory"] >= GiB


@pytest.mark.parametrize("instance_type", sorted(AWS_FACTS))
def test_figures_match_aws_specifications(instance_type: str) -> None:
    cpus, gib, gpus = AWS_FACTS[instance_type]
    assert ray_resources(instance_type) == {
        "num_cpus": cpus,
        "num_gpus": gpus,
        "memory": int(gib * GiB),
    }


def _sdk_v2_data() -> tuple[dict[str, int], dict[str, int]]:
    """The SDK v2's GPU count per instance type (``image_uri_config/instance_gpu_info.json``,
    us-east-1) and vCPUs per GPU type (``serve/utils/local_hardware.hardware_lookup``),
    read from its files: importing ``sagemaker`` costs seconds."""
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("needs the SageMaker Python SDK v2's instance data: .venv (make install)")
    root = Path(next(iter(spec.submodule_search_locations)))
    info_file = root / "image_uri_config" / "instance_gpu_info.json"
    if not info_file.exists():
        pytest.skip(f"this SDK has no {info_file.name} (SDK v2 has)")
    info = json.loads(info_file.read_text())["us-east-1"]
    tree = ast.parse((root / "serve" / "utils" / "local_hardware.py").read_text())
    (lookup,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "hardware_lookup" for t in node.targets)
    ]
    vcpus = {
        t: cpus for by_cpus in lookup.values() for cpus, t in by_cpus.items() if isinstance(t, str)
    }
    return {t: v["Count"] for t, v in info.items()}, vcpus


def test_gpu_counts_and_vcpus_match_the_sdks_own_instance_data() -> None:
    counts, vcpus = _sdk_v2_data()
    checked = [t for t in counts if t in instance_types()]
    assert len(checked) >= 20  # the SDK's table covers p2…p5 and g4dn/g5
    for instance_type in checked:
        assert ray_resources(instance_type)["num_gpus"] == counts[instance_type], instance_type
    checked = [t for t in vcpus if t in instance_types()]
    assert len(checked) >= 15
    for instance_type in checked:
        assert ray_resources(instance_type)["num_cpus"] == vcpus[instance_type], instance_type


def test_cpu_families_follow_the_size_and_letter_rules() -> None:
    # Independent of the table: every rule-built type's vCPUs from its size name and its
    # memory from the family letter, as the module documents them.
    per_vcpu = {"c": 2, "m": 4, "t": 4, "r": 8}
    for instance_type in instance_types():
        _, family, size = instance_type.split(".")
        letter = re.match(r"[a-z]+", family).group(0)
        if letter not in per_vcpu or family in ("c4", "c5n"):
            continue
        n = re.fullmatch(r"(\d*)xlarge", size)
        cpus = {"medium": 1, "large": 2}.get(size) or 4 * int(n.group(1) or 1)
        res = ray_resources(instance_type)
        assert (res["num_cpus"], res["memory"]) == (cpus, cpus * per_vcpu[letter] * GiB)


def test_an_unknown_instance_type_names_the_value_and_close_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        ray_resources("ml.m5.xlarg")
    (problem,) = caught.value.problems
    assert problem.path == "InstanceType"
    assert problem.value == "ml.m5.xlarg"
    assert "ml.m5.xlarge" in problem.fix and "TrainingInstanceType" in problem.fix


def test_an_override_replaces_only_the_figures_it_names() -> None:
    overrides = {"ml.m5.xlarge": {"num_cpus": 1, "memory": "2GiB"}}
    assert ray_resources("ml.m5.xlarge", overrides) == {
        "num_cpus": 1.0,
        "num_gpus": 0.0,
        "memory": 2 * GiB,
    }
    assert ray_resources("ml.m5.large", overrides) == ray_resources("ml.m5.large")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (512, 512),
        ("512MiB", 512 * 1024**2),
        ("1.5GiB", int(1.5 * GiB)),
        ("8GB", 8 * 10**9),
        ("16 gib", 16 * GiB),
    ],
)
def test_memory_takes_bytes_or_a_size(given: object, expected: int) -> None:
    assert load_overrides({"ml.c5.xlarge": {"memory": given}})["ml.c5.xlarge"] == {
        "memory": expected
    }


def test_overrides_from_a_json_string_a_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = json.dumps({"ml.g5.xlarge": {"num_gpus": 0, "memory": "4GiB"}})
    expected = {"ml.g5.xlarge": {"num_gpus": 0.0, "memory": 4 * GiB}}
    path = tmp_path / "ray.json"
    path.write_text(text)
    assert load_overrides(text) == expected
    assert load_overrides(path) == expected
    assert load_overrides(str(path)) == expected
    monkeypatch.setenv(ENV, text)
    assert load_overrides() == expected
    monkeypatch.setenv(ENV, str(path))
    assert load_overrides() == expected
    monkeypatch.setenv(ENV, "")
    assert load_overrides() == {}


@pytest.mark.parametrize(
    ("overrides", "path", "value", "fix_part"),
    [
        ({"ml.m5.huge": {"num_cpus": 1}}, "o.ml.m5.huge", "ml.m5.huge", "TrainingInstanceType"),
        ({"ml.m5.xlarge": {"cpus": 1}}, "o.ml.m5.xlarge.cpus", "cpus", "num_cpus"),
        ({"ml.m5.xlarge": {"num_cpus": -1}}, "o.ml.m5.xlarge.num_cpus", -1, "num_cpus"),
        ({"ml.m5.xlarge": {"num_gpus": True}}, "o.ml.m5.xlarge.num_gpus", True, "num_gpus"),
        ({"ml.m5.xlarge": {"memory": "lots"}}, "o.ml.m5.xlarge.memory", "lots", "16GiB"),
        ({"ml.m5.xlarge": 4}, "o.ml.m5.xlarge", 4, "num_cpus"),
    ],
)
def test_a_bad_override_names_the_field_the_value_and_the_fix(
    overrides: dict, path: str, value: object, fix_part: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        load_overrides(overrides, source="o")
    (problem,) = caught.value.problems
    assert (problem.path, problem.value) == (path, value)
    assert fix_part in problem.fix


def test_bad_json_and_a_missing_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, '{"ml.m5.xlarge": ')
    with pytest.raises(ValidationError, match=r"\$SMSIM_RAY_RESOURCES: not valid JSON"):
        load_overrides()
    with pytest.raises(ValidationError, match="not a JSON object nor a readable file"):
        load_overrides(tmp_path / "absent.json")
    with pytest.raises(ValidationError, match="must map instance types to resources"):
        load_overrides("[1, 2]")


def test_the_readme_shows_the_current_table() -> None:
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- ray-resources:start -->\n", "<!-- ray-resources:end -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == markdown_table(), (
        "README's Ray resources table is stale: paste "
        "`python -m simulator.hosts.ray_resources --markdown` between its markers"
    )


def test_the_module_prints_the_table_and_the_overridden_requests(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "simulator.hosts.ray_resources"]
    shown = subprocess.run([*command, "--markdown"], capture_output=True, text=True, cwd=REPO)
    assert shown.returncode == 0 and shown.stdout == markdown_table()
    overrides = json.dumps({"ml.m5.xlarge": {"num_cpus": 3}})
    listed = subprocess.run(
        [*command, "--overrides", overrides], capture_output=True, text=True, cwd=REPO
    )
    assert listed.returncode == 0, listed.stderr
    table = json.loads(listed.stdout)
    assert table["ml.m5.xlarge"] == {"num_cpus": 3.0, "num_gpus": 0.0, "memory": 16 * GiB}
    assert len(table) == len(instance_types())
