"""S3 for jobs: URIs, SageMaker's prefix download, whole-or-absent uploads, safe tar.gz,
and the one sourcedir.tar.gz packer (the SDK's code upload, for `smsim train` and pipelines).

Downloads and uploads go through boto3's managed transfer (s3transfer), which
streams to and from disk in chunks: a 1 GB channel never sits in memory.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from boto3.s3.transfer import TransferConfig

from simulator.errors import Problem, SmsimError, ValidationError

# Chunked, modestly parallel transfers: bounded memory whatever the object size.
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=64 * 1024 * 1024,
    multipart_chunksize=16 * 1024 * 1024,
    max_concurrency=4,
    io_chunksize=1024 * 1024,
)

# S3's bucket naming rules (general purpose buckets): 3-63 characters, lowercase
# letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


class S3Error(SmsimError):
    """An S3 transfer for a job failed (missing data, unsafe archive, …)."""


@dataclass(frozen=True)
class S3Uri:
    """``s3://bucket/key`` split into its parts."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        """Append key segments with single slashes (``/`` inside parts kept)."""
        key = self.key.rstrip("/")
        for part in parts:
            part = part.strip("/")
            if part:
                key = f"{key}/{part}" if key else part
        return S3Uri(self.bucket, key)


def s3_uri_problems(uri: Any, path: str) -> list[Problem]:
    """Problems of an S3 URI given in field ``path`` (empty list when it is well formed)."""
    fix = "write it as s3://<bucket>/<key prefix>"
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return [Problem(path, "not an S3 URI", uri, fix)]
    bucket = uri[len("s3://") :].split("/", 1)[0]
    if not _BUCKET_RE.match(bucket) or ".." in bucket or _IP_RE.match(bucket):
        return [
            Problem(
                path,
                f"invalid bucket name {bucket!r}",
                uri,
                "bucket names are 3-63 lowercase letters, digits, dots or hyphens, "
                "starting and ending with a letter or digit",
            )
        ]
    return []


def parse_s3_uri(uri: str, path: str = "S3Uri") -> S3Uri:
    """Split an ``s3://`` URI; raises S3Error naming the field when it is malformed."""
    problems = s3_uri_problems(uri, path)
    if problems:
        raise S3Error(str(problems[0]))
    bucket, _, key = uri[len("s3://") :].partition("/")
    return S3Uri(bucket, key)


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` in the embedded S3 if it does not exist yet."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)


def list_keys(s3: Any, uri: S3Uri) -> list[tuple[str, int]]:
    """Every (key, size) whose key starts with the URI's key (S3Prefix semantics)."""
    found: list[tuple[str, int]] = []
    paginator = s3.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=uri.bucket, Prefix=uri.key):
            for obj in page.get("Contents", []):
                found.append((obj["Key"], int(obj["Size"])))
    except s3.exceptions.NoSuchBucket as exc:
        raise S3Error(f"no bucket {uri.bucket!r} for {uri}") from exc
    return found


def prefix_objects(s3: Any, uri: S3Uri) -> list[tuple[str, str]]:
    """(key, path relative to the prefix) of every object under the key prefix of ``uri``,
    in S3's listing order (keys sorted by their UTF-8 bytes).

    SageMaker's S3Prefix rule: every key that *starts with* the prefix string is
    included (``data/train`` also matches ``data/train2/x.csv``); each file lands
    at its key relative to the prefix. A URI naming one object exactly lands
    under the object's base name. Keys ending in ``/`` (folder markers) are skipped.
    Raises S3Error when nothing matches, as the service fails the job then.
    """
    keys = [k for k, _ in list_keys(s3, uri) if not k.endswith("/")]
    if not keys:
        raise S3Error(
            f'No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists in the selected region, that objects "
            "exist under that S3 prefix"
        )
    return [(k, k[len(uri.key) :].lstrip("/") or PurePosixPath(k).name) for k in keys]


def safe_target(dest: Path, relative: str, key: str) -> Path:
    """``dest/relative``, refused when it would land outside ``dest`` (a key with ``..``)."""
    root = dest.resolve()
    target = (dest / relative).resolve()
    if root != target and root not in target.parents:
        raise S3Error(f"S3 key {key!r} would land outside {dest}; refusing it")
    return target


def download_prefix(s3: Any, uri: S3Uri, dest: Path) -> list[Path]:
    """Download every object under the key prefix of ``uri`` into ``dest``
    (``prefix_objects``' rule)."""
    objects = prefix_objects(s3, uri)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, relative in objects:
        target = safe_target(dest, relative, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(uri.bucket, key, str(target), Config=TRANSFER_CONFIG)
        written.append(target)
    return written


def download_object(s3: Any, uri: S3Uri, target: Path) -> Path:
    """Download one object to ``target`` (streamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        s3.download_file(uri.bucket, uri.key, str(target), Config=TRANSFER_CONFIG)
    except s3.exceptions.ClientError as exc:
        raise S3Error(f"cannot download {uri}: {exc}") from exc
    return target


def upload_file(s3: Any, path: Path, uri: S3Uri) -> None:
    """Upload one finished local file; the key ends up whole or absent, never half-written.

    Why: S3 makes an object visible only once its upload completes (a single PUT, or
    CompleteMultipartUpload). If a part fails, s3transfer's failure cleanup aborts the
    multipart upload (tested in test_s3_transfers). If this process is killed mid-way, an
    incomplete multipart upload may linger, invisible to GET/LIST of the key. Callers
    upload only finished files (``pack_tar_gz`` renames its archive into place).
    """
    s3.upload_file(str(path), uri.bucket, uri.key, Config=TRANSFER_CONFIG)


def upload_dir(s3: Any, src: Path, uri: S3Uri) -> list[str]:
    """Upload every file under ``src`` to ``uri/<relative path>``; returns the keys."""
    keys = []
    for file in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = file.relative_to(src).as_posix()
        target = uri.join(rel)
        upload_file(s3, file, target)
        keys.append(target.key)
    return keys


def pack_tar_gz(src: Path, archive: Path) -> Path:
    """Pack the contents of ``src`` into ``archive`` with relative member names only.

    Written to a temporary file and renamed, so a crash never leaves half an archive.
    """
    pack_tar_gz_merged([src], archive)
    return archive


def pack_tar_gz_merged(sources: list[Path], archive: Path) -> list[tuple[str, int]]:
    """Pack the contents of every directory in ``sources`` into one ``archive``, as
    SageMaker aggregates each host's ``/opt/ml/model`` into one model.tar.gz.

    A file path present in several sources is taken from the first that has it; the
    clashes are returned as (path, index of the source whose copy was left out).
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, suffix=".partial")
    os.close(fd)
    taken: set[str] = set()
    clashes: list[tuple[str, int]] = []
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            for index, src in enumerate(sources):
                for entry in sorted(src.rglob("*")):
                    if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                        continue  # SageMaker archives regular content; links could escape
                    name = entry.relative_to(src).as_posix()
                    if name in taken:
                        if entry.is_file():
                            clashes.append((name, index))
                        continue
                    taken.add(name)
                    tar.add(entry, arcname=name, recursive=False)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return clashes


def unpack_tar_gz(archive: Path, dest: Path) -> list[str]:
    """Extract ``archive`` into ``dest`` safely; returns the member names.

    Members with absolute names or ``..`` segments are refused by name before
    anything is written; extraction itself uses tarfile's ``data`` filter
    (no links out of ``dest``, no devices, no setuid bits).
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                name = member.name
                parts = PurePosixPath(name).parts
                if name.startswith(("/", "\\")) or ".." in parts:
                    raise S3Error(
                        f"unsafe member {name!r} in {archive.name}: archive members must "
                        "have relative names inside the archive (no '/' prefix, no '..'); "
                        "rebuild the archive from inside its source directory"
                    )
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:  # a link leaving dest, a device, …: refused by name
        raise S3Error(
            f"unsafe member in {archive.name}: {exc}; an archive may link only to its own "
            "members: rebuild it without links that leave its directory (e.g. tar "
            "--dereference)"
        ) from exc
    except tarfile.TarError as exc:
        raise S3Error(f"cannot extract {archive.name}: {exc}") from exc
    return [m.name for m in members]


def finish_all(syncs: list[DirSync]) -> None:
    """Finish every sync, even after one fails (then raise the first error): a sync
    left running would go on changing S3 after its job ended."""
    error: Exception | None = None
    for sync in syncs:
        try:
            sync.finish()
        except Exception as exc:  # noqa: BLE001 - raised below, after the others
            error = error or exc
    if error is not None:
        raise error


class DirSync:
    """Upload new or changed files of a directory to an S3 prefix, now and periodically.

    Used for CheckpointConfig (SageMaker syncs /opt/ml/checkpoints to S3Uri during the
    job and at its end) and for processing outputs in Continuous mode. A file is uploaded
    during the run only once its size and mtime held still between two scans, so a
    checkpoint being written is not copied half-way; the final sync takes everything.
    """

    def __init__(self, s3: Any, src: Path, dest: S3Uri, interval: float = 2.0) -> None:
        self.s3 = s3
        self.src = src
        self.dest = dest
        self.interval = interval
        self._uploaded: dict[str, tuple[int, int]] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def mark_existing(self) -> None:
        """Files already present (restored from S3) need no upload."""
        for rel, sig in self._scan().items():
            self._uploaded[rel] = sig

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="smsim-sync")
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sync(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync(final=False)
            except Exception:  # noqa: BLE001 - a failed periodic sync is retried next round
                continue

    def sync(self, final: bool) -> None:
        with self._lock:
            current = self._scan()
            for rel, sig in current.items():
                if self._uploaded.get(rel) == sig:
                    continue
                if not final and self._seen.get(rel) != sig:
                    continue  # still changing: wait for the next scan
                upload_file(self.s3, self.src / rel, self.dest.join(rel))
                self._uploaded[rel] = sig
            self._seen = current

    def _scan(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        if not self.src.is_dir():
            return out
        for p in self.src.rglob("*"):
            if p.is_file() and not p.is_symlink():
                st = p.stat()
                out[p.relative_to(self.src).as_posix()] = (st.st_size, st.st_mtime_ns)
        return out


# Files of a source dir never shipped as code.
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def code_files(source_dir: Path) -> list[Path]:
    """Files of a source dir to ship as code, sorted (caches and compiled files left out)."""
    if not source_dir.is_dir():
        raise ValidationError(
            "step code",
            [Problem("source_dir", "not a directory", str(source_dir), "point at the code")],
        )
    return sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file()
        and not _SKIP_PARTS.intersection(p.relative_to(source_dir).parts)
        and p.suffix not in (".pyc", ".pyo")
    )


def sourcedir_tarball(source_dir: Path) -> bytes:
    """The SDK's sourcedir.tar.gz of ``source_dir``, byte-identical for identical files.

    The SDK packs an estimator's source_dir into it and names it in
    ``sagemaker_submit_directory``; the toolkit unpacks it into /opt/ml/code. Fixed mtimes,
    owners and order make its bytes (and a content-addressed key) depend on the code only.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in code_files(source_dir):
            info = tarfile.TarInfo(path.relative_to(source_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def upload_sourcedir(s3: Any, source_dir: Path, target: S3Uri) -> str:
    """Upload ``source_dir``'s sourcedir.tar.gz to ``target``; its URI.

    One PUT of the finished archive: the object is whole or absent, never half-written.
    """
    s3.put_object(Bucket=target.bucket, Key=target.key, Body=sourcedir_tarball(source_dir))
    return str(target)
