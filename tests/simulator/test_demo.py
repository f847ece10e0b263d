"""simulator.demo: the demo run as a library call, with its narration and its follower."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from simulator.demo import run_demo
from simulator.pipeline.watch import watch_execution
from simulator.requests import DEFAULT_SOURCE_DIR


def test_run_demo_narrates_and_uses_the_given_follower(tmp_path: Path) -> None:
    # preprocess.py fails at once: the run is short and its result still complete.
    source = tmp_path / "code"
    shutil.copytree(DEFAULT_SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "preprocess.py").write_text("import sys\nsys.exit('no data today')\n")
    said: list[tuple[str, bool]] = []
    followed: list[str] = []

    def follow(sm: Any, arn: str, limit: float) -> dict[str, Any]:
        followed.append(arn)
        return watch_execution(sm, arn, timeout=limit)

    result = run_demo(
        tmp_path / "ws",
        rows=60,
        epochs=1,
        source_dir=source,
        say=lambda text, detail: said.append((text, detail)),
        follow=follow,
    )
    assert followed == [result["pipeline_execution_arn"]]
    assert result["pipeline_execution_status"] == "Failed"
    # The resolver's wiring is narrated as detail lines, one per wired dependency.
    details = [text for text, detail in said if detail]
    assert len(details) == len(result["wiring"]) > 0
    assert any("PyTorchTraining.input_path <- TabularPreprocessing." in d for d in details)
    assert said[0] == (f"Workspace {(tmp_path / 'ws').resolve()}", False)
    # The failed job is still described: its outputs resolve, in the one shape.
    processed = result["outputs"]["TabularPreprocessing"]["processed_data"]
    assert processed["property_path"].startswith("properties.ProcessingOutputConfig.")
    assert processed["value"].startswith("s3://smsim-demo/bsm/")
    assert set(result["outputs"]) == {"TabularPreprocessing"}
    assert Path(result["definition_path"]).is_file()
