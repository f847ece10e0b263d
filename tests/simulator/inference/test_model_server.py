"""The model server as a hosting container: /ping, /invocations, the toolkit's handler rules."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.images import ImageMap
from simulator.inference.server import ModelServer, ModelServerError

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"


def _server(tmp_path: Path, code: str | None, lines: list[str], **env: str) -> ModelServer:
    root = tmp_path / "host"
    if code is not None:
        (root / "model" / "code").mkdir(parents=True)
        (root / "model" / "code" / "inference.py").write_text(textwrap.dedent(code))
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / "weights.json").write_text(json.dumps({"scale": 3}))
    return ModelServer(
        root,
        {"Image": IMAGE, "Environment": {"SAGEMAKER_PROGRAM": "inference.py", **env}},
        s3=None,
        aws_env={},
        images=ImageMap.load(None, tmp_path),
        sink=lines.append,
        prefix="srv/algo-1",
        log_dir=tmp_path / "logs",
    )


SCALING = """
    import json, os
    def model_fn(model_dir):
        with open(os.path.join(model_dir, "weights.json")) as f:
            return json.load(f)
    def predict_fn(data, model):
        return data * model["scale"]
"""


@pytest.fixture
def lines() -> list[str]:
    return []


def test_default_decoders_and_encoders_around_the_users_predict_fn(tmp_path, lines):
    with _server(tmp_path, SCALING, lines) as server:
        server.start()
        assert server.ping()
        out = server.invoke(b"[[1, 2], [3, 4]]", "application/json", "application/json")
        assert (out.status, json.loads(out.body)) == (200, [[3, 6], [9, 12]])
        assert out.content_type == "application/json"
        out = server.invoke(b"1,2\n3,4\n", "text/csv", "text/csv")
        assert np.allclose(
            np.loadtxt(io.StringIO(out.body.decode()), delimiter=","), [[3, 6], [9, 12]]
        )
        assert out.content_type == "text/csv"
        buf = io.BytesIO()
        np.save(buf, np.arange(4.0))
        out = server.invoke(buf.getvalue(), "application/x-npy", "application/x-npy")
        assert np.load(io.BytesIO(out.body)).tolist() == [0.0, 3.0, 6.0, 9.0]
        # No Accept (or */*): SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, by default JSON.
        out = server.invoke(b"[1]", "application/json", "*/*")
        assert json.loads(out.body) == [3]
        # A type no default decoder knows: the toolkit's UnsupportedFormatError, as a 500.
        out = server.invoke(b"1", "text/plain", "application/json")
        assert out.status == 500
        assert b"Content type text/plain is not supported" in out.body


def test_transform_fn_and_context_and_custom_attributes(tmp_path, lines):
    code = """
        def model_fn(model_dir, context):
            return {"dir": model_dir}
        def transform_fn(model, body, content_type, accept, context):
            answer = {"body": body, "type": content_type, "accept": accept,
                      "attrs": context.custom_attributes, "dir": model["dir"]}
            import json
            return json.dumps(answer), "application/x-mine"
    """
    with _server(tmp_path, code, lines) as server:
        server.start()
        out = server.invoke(b"a,b", "text/csv", "text/csv", custom_attributes="trace=7")
    assert out.content_type == "application/x-mine"
    answer = json.loads(out.body)
    assert answer == {
        "body": "a,b",  # CSV and JSON reach the handlers as str
        "type": "text/csv",
        "accept": "text/csv",
        "attrs": "trace=7",
        "dir": str(tmp_path / "host" / "model"),
    }


def test_handler_error_answers_500_with_message_and_traceback(tmp_path, lines):
    code = (
        SCALING
        + """
    def input_fn(body, content_type):
        if "bad" in body:
            raise ValueError("row 2 has no amount")
        return [float(x) for x in body.split(",")]
    def output_fn(prediction, accept):
        return ",".join(str(p) for p in prediction)
    """
    )
    code = code.replace('return data * model["scale"]', "return [d * model['scale'] for d in data]")
    with _server(tmp_path, code, lines) as server:
        server.start()
        assert server.invoke(b"1,2", "text/csv", "text/csv").body == b"3.0,6.0"
        out = server.invoke(b"1,bad", "text/csv", "text/csv")
        assert out.status == 500
        first, *rest = out.body.decode().splitlines()
        assert first == "ValueError: row 2 has no amount"
        assert any("Traceback" in line for line in rest)
        # The server lives on after a failed request.
        assert server.invoke(b"2", "text/csv", "text/csv").body == b"6.0"


def test_model_that_fails_to_load_is_reported_with_its_traceback(tmp_path, lines):
    code = """
        def model_fn(model_dir):
            raise FileNotFoundError("model.onnx missing")
    """
    server = _server(tmp_path, code, lines)
    with pytest.raises(ModelServerError) as err:
        server.start()
    assert "before answering /ping" in str(err.value)
    assert "FileNotFoundError: model.onnx missing" in str(err.value)
    assert (tmp_path / "logs" / "algo-1.log").read_text().count("model.onnx missing") >= 1


def test_transform_fn_with_input_fn_is_refused_as_the_toolkit_does(tmp_path, lines):
    code = """
        def model_fn(d): return 1
        def input_fn(b, c): return b
        def transform_fn(m, b, c, a): return b
    """
    with pytest.raises(ModelServerError, match="Cannot use transform_fn implementation"):
        _server(tmp_path, code, lines).start()


def test_without_a_module_the_default_model_fn_asks_for_one(tmp_path, lines):
    with pytest.raises(ModelServerError, match="Please provide a model_fn implementation"):
        _server(tmp_path, None, lines).start()


def test_servers_side_by_side_on_their_own_ports(tmp_path, lines):
    a = _server(tmp_path / "a", SCALING, lines)
    b = _server(tmp_path / "b", SCALING.replace('model["scale"]', '-model["scale"]'), lines)
    with a, b:
        a.start()
        b.start()
        assert a.port != b.port
        assert json.loads(a.invoke(b"[1]", "application/json").body) == [3]
        assert json.loads(b.invoke(b"[1]", "application/json").body) == [-3]
    assert a.process is not None and a.process.poll() is not None  # stopped
    assert not a.ping()


def test_a_launched_server_reads_the_model_only_once_released(tmp_path, lines):
    # Transform jobs and endpoints launch the process first and download the model
    # meanwhile: what is in place at release is what it serves, nothing before.
    server = _server(tmp_path, None, lines)  # no code yet: unheld, it would fail at once
    with server:
        server.launch()
        time.sleep(1.0)  # time enough to have failed, were it not holding
        assert server.process is not None and server.process.poll() is None
        assert not server.ping()  # the port opens only once the model is loaded
        code = server.layout.model_dir / "code"
        code.mkdir()
        (code / "inference.py").write_text(textwrap.dedent(SCALING))
        server.start()
        assert json.loads(server.invoke(b"[1]", "application/json").body) == [3]
    held = _server(tmp_path / "never", None, lines)
    with held:
        held.launch()
    assert held.process is not None and held.process.poll() is not None  # stopped, unreleased
    assert not any("Please provide a model_fn" in line for line in lines)


def test_submit_directory_from_s3_is_unpacked_as_the_code(tmp_path, lines, sm, bucket):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = textwrap.dedent(SCALING).encode()
        info = tarfile.TarInfo("serve.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    sm.s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=buf.getvalue())
    root = tmp_path / "host"
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.json").write_text(json.dumps({"scale": 5}))
    container: dict[str, Any] = {
        "Image": IMAGE,
        "Environment": {
            "SAGEMAKER_PROGRAM": "serve.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/sourcedir.tar.gz",
        },
    }
    server = ModelServer(
        root,
        container,
        s3=sm.s3,
        aws_env=sm.aws_env(),
        images=sm.images,
        sink=lines.append,
        prefix="srv/algo-1",
        log_dir=tmp_path / "logs",
    )
    with server:
        server.prepare()
        server.start()
        assert json.loads(server.invoke(b"[2]", "application/json").body) == [10]
