"""The path of one `smsim train` through smsim's modules, measured (issue #12).

    .venv/bin/python tools/train_path.py [--rows 240] [--json] [--keep DIR]

Runs one real ``smsim train --spec pytorch_training --input input_path=DIR
--hyperparameters HPS --json`` in this process (the CLI entry ``simulator.cli:main``,
as README's quick tour runs it), on tiny synthetic BSM data (``--rows``, 1 epoch), with
a profile function on every thread (``sys.setprofile`` + ``threading.setprofile``) and
an audit hook, and prints what the code of that one job passed through.

The measure, exactly as computed here:

* **smsim module**: a source file under ``simulator/``, ``specs/`` or ``contracts/`` of
  this repository, named by its dotted module (``simulator.endpoint.jobs``).
* **(a) modules run**: every smsim module of which a function was called (a profile
  ``call`` event of a code object that is not module-level code) in any thread, from
  the CLI's start to its exit, outside any import (no module body running in that
  thread). Modules whose code ran only while being imported are counted apart.
* **moments**, each the stack of one thread at one event:
  1. ``create`` — the CLI's (main) thread when botocore's ``BaseClient._make_api_call``
     is called with ``CreateTrainingJob``;
  2. ``record`` — the thread that first writes the job's ``describe.json`` (the
     endpoint's request thread creating the record InProgress);
  3. ``model.tar.gz`` — the first thread holding an smsim frame that calls boto3's
     ``upload_file`` / ``upload_fileobj`` or botocore's ``PutObject`` with a ``Key``
     ending ``/model.tar.gz`` (s3transfer's worker threads, which send the PutObject
     itself, hold no smsim frame);
  4. ``describe`` — the thread that writes the job's ``describe.json`` the last time
     (audit events ``open`` for writing or ``os.rename`` onto
     ``<workspace>/jobs/<job>/describe.json``).
* **stack** at a moment: that thread's frames, outermost first, reduced to smsim
  modules, consecutive frames of one module collapsed into one hop.
* **(b) the path**: the union of the four stacks, each module once, in order of first
  appearance (moments in the order above, each stack outermost first). Its length is
  the issue's "files on the path" figure.
* **(c) returns**: within one stack, a module that appears again after another module
  was entered (A → B → A); each re-appearance counts once, shown with the hops between.
* **(d) re-entries anywhere** (not only at the four moments): at every call of an smsim
  function outside imports, in any thread, the (c) returns of that thread's stack that
  end in the called module; each distinct A → … → A counted once, with how many calls
  made it (a callback or observer called back into a module already on the stack).
* **(e) import cycles**: the cycles of the static graph of module-level imports between
  smsim modules (``if`` blocks such as ``TYPE_CHECKING`` and imports inside functions
  left out): ``import a.b`` and ``from a.b import c`` are edges to ``a.b`` (the module
  whose namespace is read), plus to ``a.b.c`` when that is a module.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "specs", "contracts")
JOB = "path-train"
MOMENTS = ("create", "record", "model.tar.gz", "describe")


def smsim_module(filename: str) -> str | None:
    """The dotted module of an smsim source file, or None for any other file."""
    try:
        rel = Path(filename).resolve().relative_to(REPO)
    except ValueError:
        return None
    if rel.parts[0] not in PACKAGES or rel.suffix != ".py":
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collapse(modules: list[str]) -> list[str]:
    """Consecutive frames of one module as one hop."""
    out: list[str] = []
    for module in modules:
        if not out or out[-1] != module:
            out.append(module)
    return out


def returns(hops: list[str]) -> list[list[str]]:
    """Each A → … → A of a collapsed stack: the hops from A's last visit back to A."""
    found: list[list[str]] = []
    last: dict[str, int] = {}
    for i, module in enumerate(hops):
        if module in last:
            found.append(hops[last[module] : i + 1])
        last[module] = i
    return found


def union(stacks: list[list[str]]) -> list[str]:
    """Every module of the stacks once, in order of first appearance."""
    seen: dict[str, None] = {}
    for stack in stacks:
        for module in stack:
            seen.setdefault(module, None)
    return list(seen)


def import_cycles() -> list[list[str]]:
    """The strongly connected components (more than one module) of the import graph (e)."""
    files = {
        m: f for pkg in PACKAGES for f in (REPO / pkg).rglob("*.py") if (m := smsim_module(str(f)))
    }
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, file in files.items():
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module in files:
                    graph[module].add(node.module)
                graph[module] |= {f"{node.module}.{a.name}" for a in node.names} & set(files)
    return _components(graph)


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively; those of 2+ modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif step not in index:
                index[step] = low[step] = len(index)
                stack.append(step)
                on_stack.add(step)
                work.append((step, iter(sorted(graph[step]))))
            elif step in on_stack:
                low[node] = min(low[node], index[step])
    return found


@dataclass
class Recorder:
    """What the profile function and the audit hook see while the job runs."""

    describe_file: Path | None = None
    active: bool = False
    called: set[str] = field(default_factory=set)  # code files with a function called
    imported: set[str] = field(default_factory=set)  # called only inside an import
    stacks: dict[str, list[str]] = field(default_factory=dict)
    reentries: dict[tuple[str, ...], int] = field(default_factory=dict)
    _import_depth: dict[int, int] = field(default_factory=dict)  # per thread
    _module_cache: dict[str, str | None] = field(default_factory=dict)

    def module(self, filename: str) -> str | None:
        if filename not in self._module_cache:
            self._module_cache[filename] = smsim_module(filename)
        return self._module_cache[filename]

    def stack(self, frame: FrameType | None) -> list[str]:
        frames: list[str] = []
        while frame is not None:
            module = self.module(frame.f_code.co_filename)
            if module is not None:
                frames.append(module)
            frame = frame.f_back
        return collapse(frames[::-1])

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.active or event not in ("call", "return"):
            return
        code = frame.f_code
        if code.co_name == "<module>":  # an import runs the module's body
            thread = threading.get_ident()
            step = 1 if event == "call" else -1
            self.imported.add(code.co_filename)
            self._import_depth[thread] = self._import_depth.get(thread, 0) + step
            return
        if event != "call":
            return
        if self._import_depth.get(threading.get_ident(), 0) > 0:
            self.imported.add(code.co_filename)
            return
        if code.co_filename not in self.called:
            self.called.add(code.co_filename)
        module = self.module(code.co_filename)
        if module is not None:
            for found in returns(self.stack(frame)):
                if found[-1] == module:
                    key = tuple(found)
                    self.reentries[key] = self.reentries.get(key, 0) + 1
        name = code.co_name
        if name == "_make_api_call":
            operation = frame.f_locals.get("operation_name")
            params = frame.f_locals.get("api_params") or {}
            if operation == "CreateTrainingJob" and threading.current_thread() is (
                threading.main_thread()
            ):
                self._moment("create", frame)
            elif operation == "PutObject" and str(params.get("Key", "")).endswith("/model.tar.gz"):
                self._moment("model.tar.gz", frame)
        elif name in ("upload_file", "upload_fileobj") and str(
            frame.f_locals.get("Key", "")
        ).endswith("/model.tar.gz"):
            self._moment("model.tar.gz", frame)

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or self.describe_file is None:
            return
        if event == "os.rename":
            target = args[1]
        elif event == "open" and isinstance(args[1], str) and set(args[1]) & set("wax+"):
            target = args[0]
        else:
            return
        if not isinstance(target, str | bytes | os.PathLike):
            return
        written = os.fsdecode(target)
        if os.path.basename(written) != "describe.json":
            return
        if Path(written).resolve() != self.describe_file:
            return
        stack = self.stack(sys._getframe(1))
        self.stacks.setdefault("record", stack)
        self.stacks["describe"] = stack  # the last write wins

    def _moment(self, moment: str, frame: FrameType) -> None:
        stack = self.stack(frame)
        if stack and moment not in self.stacks:
            self.stacks[moment] = stack


def run_train(workdir: Path, rows: int, recorder: Recorder) -> dict[str, Any]:
    """One `smsim train … --json` through the CLI entry, profiled; its JSON document."""
    from simulator.cli import main
    from simulator.datasets import write_dataset

    data = write_dataset(workdir / "data", rows=rows, seed=7)
    hps = workdir / "hps.json"
    hps.write_text(json.dumps({"max_epochs": 1, "model_class": "multimodal_cnn", "lr": 0.01}))
    workspace = workdir / "ws"
    recorder.describe_file = (workspace / "jobs" / JOB / "describe.json").resolve()
    args = [
        "train",
        "--spec",
        "pytorch_training",
        "--input",
        f"input_path={data['dir']}",
        "--hyperparameters",
        str(hps),
        "--job-name",
        JOB,
        "--workspace",
        str(workspace),
        "--json",
    ]
    out = io.StringIO()
    sys.addaudithook(recorder.audit)
    recorder.active = True
    threading.setprofile(recorder.profile)
    sys.setprofile(recorder.profile)
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main(args, prog_name="smsim")
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        recorder.active = False
    return dict(json.loads(out.getvalue()))


def measure(recorder: Recorder, document: dict[str, Any]) -> dict[str, Any]:
    """The figures of the docstring from what ``recorder`` saw."""
    called = sorted({m for f in recorder.called if (m := smsim_module(f))})
    imported = sorted({m for f in recorder.imported if (m := smsim_module(f))} - set(called))
    reentries = sorted(recorder.reentries.items(), key=lambda item: -item[1])
    missing = [m for m in MOMENTS if m not in recorder.stacks]
    stacks = {m: recorder.stacks.get(m, []) for m in MOMENTS}
    path = union([stacks[m] for m in MOMENTS])
    cycles = import_cycles()
    back = {m: [" → ".join(r) for r in returns(stacks[m])] for m in MOMENTS}
    return {
        "job_status": document.get("job", {}).get("TrainingJobStatus"),
        "modules_run": called,
        "modules_imported_only": imported,
        "stacks": stacks,
        "missing_moments": missing,
        "path": path,
        "returns": back,
        "reentries": [{"hops": " → ".join(k), "calls": n} for k, n in reentries],
        "import_cycles": cycles,
        "figures": {
            "modules_run": len(called),
            "path_files": len(path),
            "returns": sum(len(r) for r in back.values()),
            "reentries": len(reentries),
            "import_cycles": len(cycles),
        },
    }


def render(result: dict[str, Any]) -> str:
    lines = [f"job status: {result['job_status']}"]
    lines.append(f"\n(a) smsim modules with code run: {len(result['modules_run'])}")
    lines += [f"    {m}" for m in result["modules_run"]]
    imported = len(result["modules_imported_only"])
    lines.append(f"    (+ {imported} more whose code ran only while imported)")
    lines.append("\nstacks at the moments (smsim modules, outermost first):")
    for moment, stack in result["stacks"].items():
        lines.append(f"  {moment}: {' → '.join(stack) or '(not seen)'}")
    lines.append(f"\n(b) the path: {len(result['path'])} files")
    lines += [f"  {i:2d}. {m}" for i, m in enumerate(result["path"], 1)]
    lines.append(f"\n(c) returns to a module already left: {result['figures']['returns']}")
    for moment, found in result["returns"].items():
        lines += [f"  {moment}: {r}" for r in found]
    lines.append(f"\n(d) re-entries anywhere: {result['figures']['reentries']}")
    lines += [f"  {r['hops']}  ({r['calls']} calls)" for r in result["reentries"]]
    lines.append(f"\n(e) import cycles: {len(result['import_cycles'])}")
    lines += [f"  {' ↔ '.join(c)}" for c in result["import_cycles"]]
    if result["missing_moments"]:
        lines.append(f"\nnot seen: {', '.join(result['missing_moments'])}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240, help="synthetic BSM rows")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    options = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if options.keep:
            workdir = options.keep.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smsim-path-")))
        recorder = Recorder()
        document = run_train(workdir, options.rows, recorder)
        result = measure(recorder, document)
    print(json.dumps(result, indent=2) if options.json else render(result))
    ok = result["job_status"] == "Completed" and not result["missing_moments"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
