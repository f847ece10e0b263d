"""Shared fixtures.

* ``sm``: a started :class:`simulator.LocalSageMaker` on a fresh workspace under
  ``tmp_path`` (short stop grace and checkpoint sync interval; logs captured), injecting
  the ``faults`` fixture's plan (none; a test module overrides ``faults``).
* ``tiny_bsm_data``: a small synthetic BSM dataset split into train/val/test
  (``simulator.datasets.write_dataset``); the returned dict as that function returns it.
* ``training_request``: a factory for a valid CreateTrainingJob request.
* ``bucket``, ``put_s3(key, body)``, ``make_sourcedir_tar(files)``: S3 helpers.
* ``run_training(request, timeout=120)``: create a training job on ``sm`` and wait for
  its end; its description.
* ``read_tar(sm, bucket, key)``: the files of a .tar.gz in S3 (name → bytes).
* ``pytorch_estimator(source_dir, **options)``: the SDK's ``PyTorch`` estimator for
  ``train.py`` in ``source_dir`` (2.1, py310, one ml.m5.xlarge unless ``options`` say).
* ``sdk_estimator(script, **options)``: ``pytorch_estimator`` as a user's code builds it
  for ``script`` (train.py of a fresh source dir): the SageMakerRole, no profiler, an SDK
  session (telemetry off) whose default bucket is ``sdk-bucket``.
* ``stage_code(session, files)``: create the test bucket on a session of the test's own
  and put a sourcedir tar of ``files`` at ``c.tar.gz``; returns its S3 URI.
* ``fail_tar_member(name, message)``: from then on packing a tar member ``name`` raises
  ``OSError(message)``.
* ``fail_s3_uploads(part, message)``: from then on smsim's S3 uploads of keys with
  ``part`` in their path raise ``OSError(message)``; the others go through.
* ``script_request(name, script, **options)``: ``training_request`` for a job whose
  train.py is ``script``, uploaded with ``upload_code``.
* ``upload_code``: write a script into a source dir, tar it and upload it as
  ``sourcedir.tar.gz`` (what the SDK does), returning the S3 URI.
* ``ray_cluster``: a Ray head and 2 workers on loopback (``tests/ray_cluster.py``), one
  per session, started on first use; skipped where Ray cannot start.
  ``killable_ray_cluster``: the same cluster, its killed workers replaced after the test.

SDK majors: a test that drives smsim through the SageMaker Python SDK is marked
``@pytest.mark.sdk`` (any major), ``sdk(2)`` or ``sdk(3)`` (written against one major's
API). ``make test`` runs everything in .venv (SDK v2), then ``-m sdk`` in .venv-sdk3
(SDK v3); a test for the other major is skipped with the reason, as is an SDK test
where no SDK is installed.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Its helpers assert (assert_steps_succeeded): pytest's rewriting gives their failures detail.
pytest.register_assert_rewrite("tests.support")

from tests import support  # noqa: E402
from tests.support import TRAINING_IMAGE as IMAGE  # noqa: E402
from tests.support import sourcedir_tar  # noqa: E402

BUCKET = "smsim-test-bucket"


SDK_VENV = {2: ".venv (make install)", 3: ".venv-sdk3 (make install-sdk3)"}


def installed_sdk_major() -> int | None:
    """The major version of the installed ``sagemaker`` distribution, None if absent."""
    try:
        return int(importlib.metadata.version("sagemaker").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


# The test modules that start a Ray cluster (the ``ray_cluster`` fixture, one per pytest
# process, ~20-30 s and ~1.2 GB each): under ``pytest -n N --dist loadscope`` they form one
# scope, so one worker starts one cluster instead of each worker its own; the longest
# scope of the suite (minutes), it is handed out first, or it would be the run's tail.
RAY_TEST_MODULES = ("test_ray_backend.py", "test_ray_cluster.py", "test_serve_ray.py")
RAY_SCOPE = "ray-cluster"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None  # xdist's own scheduler for any other --dist

    from xdist.scheduler import LoadScopeScheduling

    class RayTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
            return RAY_SCOPE if module in RAY_TEST_MODULES else super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if RAY_SCOPE in self.workqueue:
                self.workqueue.move_to_end(RAY_SCOPE, last=False)
            super()._assign_work_unit(node)

    return RayTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    major = installed_sdk_major()
    for item in items:
        marker = item.get_closest_marker("sdk")
        if marker is None:
            continue
        wanted = marker.args[0] if marker.args else None
        if major is None:
            where = SDK_VENV.get(wanted, ".venv or .venv-sdk3")
            item.add_marker(pytest.mark.skip(reason=f"needs the SageMaker Python SDK: {where}"))
        elif wanted is not None and wanted != major:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"written against SDK v{wanted}'s API, this venv has v{major}; "
                    f"`make test` runs it in {SDK_VENV[wanted]}"
                )
            )


class LogCollector:
    """A log sink keeping every line (tests assert on the live, prefixed log stream)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def log_lines() -> LogCollector:
    return LogCollector()


@pytest.fixture
def faults() -> list[dict[str, Any]] | None:
    """The fault plan of the ``sm`` session: none (``$SMSIM_FAULTS``'s); a test module
    overrides this fixture to inject its own."""
    return None


@pytest.fixture
def sm(
    tmp_path: Path, log_lines: LogCollector, faults: list[dict[str, Any]] | None
) -> Iterator[Any]:
    with support.started_sagemaker(tmp_path / "ws", log_lines, BUCKET, faults=faults) as session:
        yield session


@pytest.fixture
def tiny_bsm_data(tmp_path: Path) -> dict[str, Any]:
    from simulator.datasets import write_dataset

    return write_dataset(tmp_path / "bsm-data", rows=240, seed=7)


def s3_tar_files(sm: Any, bucket: str, key: str) -> dict[str, bytes]:
    """The files of the .tar.gz at ``s3://bucket/key`` (name → bytes), read through ``sm.s3``."""
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def stage_sourcedir(session: Any, files: dict[str, str], key: str = "c.tar.gz") -> str:
    session.s3.create_bucket(Bucket=BUCKET)
    session.s3.put_object(Bucket=BUCKET, Key=key, Body=sourcedir_tar(files))
    return f"s3://{BUCKET}/{key}"


@pytest.fixture(scope="session")
def stage_code() -> Callable[..., str]:
    return stage_sourcedir


@pytest.fixture(scope="session")
def read_tar() -> Callable[[Any, str, str], dict[str, bytes]]:
    return s3_tar_files


@pytest.fixture
def run_training(sm: Any) -> Callable[..., dict[str, Any]]:
    def run(request: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        sm.create_training_job(**request)
        return sm.wait_for_training_job(request["TrainingJobName"], timeout=timeout)

    return run


@pytest.fixture(scope="session")
def pytorch_estimator() -> Callable[..., Any]:
    def build(source_dir: Path | str, **options: Any) -> Any:
        from sagemaker.pytorch import PyTorch

        defaults = {
            "framework_version": "2.1",
            "py_version": "py310",
            "instance_type": "ml.m5.xlarge",
            "instance_count": 1,
        }
        return PyTorch(entry_point="train.py", source_dir=str(source_dir), **defaults | options)

    return build


@pytest.fixture
def sdk_estimator(tmp_path: Path, pytorch_estimator: Callable[..., Any]) -> Callable[..., Any]:
    def build(script: str, **options: Any) -> Any:
        import boto3
        import sagemaker

        src = tmp_path / "src"
        src.mkdir()
        (src / "train.py").write_text(script)
        session = sagemaker.Session(
            boto3.Session(region_name="us-east-1"),
            default_bucket="sdk-bucket",
            sagemaker_config=support.SDK_CONFIG,
        )
        return pytorch_estimator(
            src,
            role=support.ROLE,
            disable_profiler=True,
            sagemaker_session=session,
            **options,
        )

    return build


@pytest.fixture
def fail_s3_uploads(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    def install(part: str, message: str) -> None:
        from simulator import s3

        real_upload = s3.upload_file

        def failing_upload(client: Any, path: Any, uri: Any) -> None:
            if part in f"/{uri.key}":
                raise OSError(message)
            real_upload(client, path, uri)

        monkeypatch.setattr(s3, "upload_file", failing_upload)

    return install


@pytest.fixture
def fail_tar_member(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``fail(name, message)``: from then on adding the member ``name`` to any tar raises
    ``OSError(message)`` (a file that cannot be read while an archive is packed)."""

    def install(name: str, message: str) -> None:
        real_addfile = tarfile.TarFile.addfile

        def addfile(self: tarfile.TarFile, info: tarfile.TarInfo, fileobj: Any = None) -> None:
            if info.name == name:
                raise OSError(message)
            real_addfile(self, info, fileobj)

        monkeypatch.setattr(tarfile.TarFile, "addfile", addfile)

    return install


@pytest.fixture
def upload_code(sm: Any) -> Callable[..., str]:
    def upload(files: dict[str, str], key: str = "code/sourcedir.tar.gz") -> str:
        sm.s3.put_object(Bucket=BUCKET, Key=key, Body=sourcedir_tar(files))
        return f"s3://{BUCKET}/{key}"

    return upload


@pytest.fixture
def script_request(
    upload_code: Callable[..., str], training_request: Callable[..., dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """``script_request(name, script, **options)``: the ``training_request`` of a job whose
    train.py is ``script`` (uploaded as its sourcedir.tar.gz)."""

    def build(name: str, script: str, **options: Any) -> dict[str, Any]:
        return training_request(name, upload_code({"train.py": script}), **options)

    return build


@pytest.fixture
def bucket() -> str:
    """The bucket the ``sm`` fixture creates."""
    return BUCKET


@pytest.fixture
def put_s3(sm: Any) -> Callable[[str, str | bytes], str]:
    """Put an object into the ``sm`` bucket; returns its S3 URI."""

    def put(key: str, body: str | bytes) -> str:
        data = body.encode() if isinstance(body, str) else body
        sm.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return f"s3://{BUCKET}/{key}"

    return put


@pytest.fixture(scope="session")
def make_sourcedir_tar() -> Callable[[dict[str, str]], bytes]:
    return sourcedir_tar


@pytest.fixture
def training_request() -> Callable[..., dict[str, Any]]:
    def build(
        name: str,
        code_uri: str,
        program: str = "train.py",
        hyperparameters: dict[str, Any] | None = None,
        channels: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return support.training_request(
            name,
            IMAGE,
            support.sdk_hyperparameters(program, code_uri, hyperparameters),
            channels,
            f"s3://{BUCKET}/output",
            **extra,
        )

    return build


class _RayClusters:
    """The tests' one Ray cluster: started by the first Ray test module, stopped as soon as
    the next test is not a Ray one (``pytest_runtest_teardown``), not at the session's end:
    its ~10 processes would otherwise take CPU from every test after them."""

    def __init__(self) -> None:
        self.cluster: Any = None

    def get(self) -> Any:
        from tests.ray_cluster import RayUnavailable, start_cluster

        if self.cluster is None:
            try:
                self.cluster = start_cluster()
            except RayUnavailable as exc:
                pytest.skip(f"Ray cannot start here: {exc}")
        return self.cluster

    def stop(self) -> None:
        if self.cluster is None:
            return
        from simulator.hosts.ray_launcher import disconnect

        with contextlib.suppress(Exception):
            disconnect()  # this process's driver first: the cluster is going away
        self.cluster.stop()
        self.cluster = None


_RAY = _RayClusters()


def _is_ray_test(item: pytest.Item | None) -> bool:
    return item is not None and item.path.name in RAY_TEST_MODULES


@pytest.hookimpl(trylast=True)  # after the tests' own fixtures are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _is_ray_test(item) and not _is_ray_test(nextitem):
        _RAY.stop()


@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    return _RAY.get()


@pytest.fixture
def killable_ray_cluster(ray_cluster: Any) -> Iterator[Any]:
    """``ray_cluster`` for a test that kills workers: they are replaced afterwards, so the
    tests after it find 2 workers again."""
    yield ray_cluster
    ray_cluster.revive()
