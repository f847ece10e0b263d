"""A `smsim serve` process started by the test, and what a client needs to reach it.

The tests that use it import no smsim code: they are clients in another process (plain
boto3, the SageMaker SDK, the AWS CLI), exactly as a user's notebook or CI job is.
"""

from __future__ import annotations

import io
import os
import queue
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.support import PROCESSING_IMAGE, ROLE, SDK_CONFIG, TRAINING_IMAGE

SMSIM = str(Path(sys.executable).parent / "smsim")


class ServerProcess:
    """`smsim serve --port 0` on a workspace, as a user starts it in a terminal."""

    def __init__(self, workspace: Path, log: Path, *args: str) -> None:
        self.workspace = workspace
        self.log = log
        self.args = args
        self.env: dict[str, str] = {}
        self.banner: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def start(self, timeout: float = 60) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        self._stderr = self.log.open("a")
        self.proc = subprocess.Popen(
            [SMSIM, "serve", "--port", "0", "--workspace", str(self.workspace), *self.args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise AssertionError(f"smsim serve printed no banner; log: {self.log}") from None
            if line is None:
                raise AssertionError(f"smsim serve exited: {self.log.read_text()[-2000:]}")
            self.banner.append(line)
            if line.strip().startswith("export "):
                key, _, value = line.strip()[len("export ") :].partition("=")
                self.env[key] = value
            if line.startswith("Ctrl-C"):
                return self

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        self._stderr.close()
        return code


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """A factory: ``serve(workspace)`` starts a server; every one is stopped at the end."""
    started: list[ServerProcess] = []

    def start(workspace: Path | None = None, *args: str) -> ServerProcess:
        server = ServerProcess(
            workspace or tmp_path / "ws", tmp_path / f"serve-{len(started)}.log", *args
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point this process's AWS SDKs at a server, with only the exported variables."""

    def point(server: ServerProcess) -> None:
        for key in list(os.environ):
            if key.startswith("AWS_"):
                monkeypatch.delenv(key)
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)

    return point


def read_tar(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def training_request(name: str, code_uri: str, bucket: str, **extra: Any) -> dict[str, Any]:
    """A CreateTrainingJob request as the SDK's PyTorch estimator sends it."""
    return support.training_request(
        name,
        TRAINING_IMAGE,
        {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"{code_uri}"',
        },
        None,
        f"s3://{bucket}/output",
        algorithm={"MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9\.]+)"}]},
        resources={"volume_gb": 5},
        **extra,
    )


@pytest.fixture
def kit(make_sourcedir_tar: Any) -> Any:
    """The helpers above, for the test modules (conftest modules are not importable)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        role=ROLE,
        processing_image=PROCESSING_IMAGE,
        sdk_config=SDK_CONFIG,
        sourcedir_tar=make_sourcedir_tar,
        read_tar=read_tar,
        training_request=training_request,
    )
