"""What a channel's data is: the objects of an S3 prefix, a manifest file, an augmented
manifest or a local directory, and how a Pipe feeder opens one.

* S3Prefix: ``simulator.s3.prefix_objects`` (keys in S3's order, relative to the prefix).
* ManifestFile (S3DataSource.S3Uri's doc): ``[{"prefix": "s3://bucket/p/"}, "rel/key", …]``
  → prefix + each suffix, in the manifest's order, landing at the suffix. Shared by
  training, processing and batch transform inputs.
* AugmentedManifestFile: see ``augmented_manifest_lines``.
* FileDataSource (the SDK local mode's ``file://`` channel): the files, sorted.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from simulator.s3 import S3Error, S3Uri, parse_s3_uri, prefix_objects


@dataclass(frozen=True)
class DataObject:
    """One input object: in S3 (``uri``), a local file (``path``, the SDK local mode's
    FileDataSource) or bytes of an augmented manifest line (``inline``), and where it
    lands under the channel directory (``relative``). An augmented manifest's line is
    one object of ``parts`` (its attributes, streamed in AttributeNames order)."""

    relative: str
    uri: S3Uri | None = None
    path: Path | None = None
    inline: bytes | None = None
    parts: tuple[DataObject, ...] = ()


def manifest_objects(s3: Any, uri: S3Uri) -> list[DataObject]:
    """The objects a manifest file lists (S3DataSource.S3Uri's doc): ``[{"prefix":
    "s3://bucket/p/"}, "rel/key", …]`` → prefix + each suffix, in order, landing at the
    suffix. Shared by training, processing and transform inputs."""
    try:
        body = s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    except s3.exceptions.ClientError as exc:
        raise S3Error(f"cannot read the manifest file {uri}: {exc}") from exc
    try:
        entries = json.loads(body)
        prefix = parse_s3_uri(entries[0]["prefix"], "manifest prefix")
        suffixes = [e for e in entries[1:]]
        if not all(isinstance(e, str) for e in suffixes):
            raise TypeError("every entry after the prefix must be a string")
    except (ValueError, KeyError, IndexError, TypeError, S3Error) as exc:
        raise S3Error(
            f"{uri} is not a manifest file: expected "
            '[{"prefix": "s3://bucket/prefix/"}, "relative/key", …] '
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not suffixes:
        raise S3Error(f"the manifest file {uri} lists no objects after its prefix")
    return [DataObject(s.lstrip("/"), uri=S3Uri(prefix.bucket, prefix.key + s)) for s in suffixes]


def augmented_manifest_lines(s3: Any, uri: S3Uri, attributes: list[str]) -> list[DataObject]:
    """An augmented manifest (developer guide, "Provide Dataset Metadata to Training Jobs
    with an Augmented Manifest File"): JSON lines; of each line the ``AttributeNames``, in
    that order, are streamed — a ``-ref`` attribute as the contents of the S3 object it
    names, any other as its string representation (a string as itself, other JSON values
    as their JSON text); unlisted attributes are ignored. One object per line, whose
    ``parts`` are those pieces (shuffled and sharded by line)."""
    try:
        body = s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    except s3.exceptions.ClientError as exc:
        raise S3Error(f"cannot read the augmented manifest file {uri}: {exc}") from exc
    lines: list[DataObject] = []
    for number, text in enumerate(body.decode("utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise S3Error(f"line {number} of {uri} is not a JSON object ({exc})") from exc
        parts = []
        for name in attributes:
            if not isinstance(record, dict) or name not in record:
                raise S3Error(
                    f"line {number} of the augmented manifest {uri} has no attribute "
                    f"{name!r} (AttributeNames {attributes}); every line needs each of them"
                )
            value = record[name]
            if name.endswith("-ref"):
                parts.append(
                    DataObject(name, uri=parse_s3_uri(str(value), f"{name} of line {number}"))
                )
            else:
                data = value if isinstance(value, str) else json.dumps(value)
                parts.append(DataObject(name, inline=data.encode("utf-8")))
        lines.append(DataObject(f"line {number}", parts=tuple(parts)))
    if not lines:
        raise S3Error(f"the augmented manifest file {uri} has no lines")
    return lines


def s3_prefix_objects(s3: Any, uri: S3Uri, fast_file: bool = False) -> list[DataObject]:
    found = prefix_objects(s3, uri)
    if fast_file and uri.key and not uri.key.endswith("/"):
        # FastFile's folder view: "S3Uri prefixes must not correspond to a partial folder
        # name" (s3://b/train with s3://b/train-01/data.csv); an exact object is fine.
        partial = [k for k, _ in found if k != uri.key and not k.startswith(uri.key + "/")]
        if partial:
            raise S3Error(
                f"FastFile mode presents S3 as folders: S3Uri {uri} is a partial folder "
                f"name of {partial[0]!r}; end the S3Uri with '/' at a folder boundary "
                f"(e.g. s3://{uri.bucket}/{partial[0].rsplit('/', 1)[0]}/)"
            )
    return [DataObject(rel, uri=S3Uri(uri.bucket, key)) for key, rel in found]


def local_objects(file_uri: str) -> list[DataObject]:
    """A FileDataSource (``file:///dir`` or a file): its files, sorted by relative path."""
    local = Path(file_uri[len("file://") :]) if file_uri.startswith("file://") else Path(file_uri)
    if local.is_file():
        return [DataObject(local.name, path=local)]
    files = sorted(p for p in local.rglob("*") if p.is_file())
    return [DataObject(p.relative_to(local).as_posix(), path=p) for p in files]


def opener(s3: Any, gunzip_objects: bool) -> Callable[[object], BinaryIO]:
    """Opens one object for a Pipe feeder, decompressed when the channel says Gzip (an
    augmented manifest's inline values are never compressed)."""

    def open_object(obj: object) -> BinaryIO:
        assert isinstance(obj, DataObject)
        if obj.inline is not None:
            return io.BytesIO(obj.inline)
        if obj.path is not None:
            raw: BinaryIO = open(obj.path, "rb")  # noqa: SIM115 - the feeder closes it
        else:
            assert obj.uri is not None
            try:
                raw = s3.get_object(Bucket=obj.uri.bucket, Key=obj.uri.key)["Body"]
            except s3.exceptions.ClientError as exc:
                raise S3Error(f"cannot read {obj.uri}: {exc}") from exc
        return _Gunzipped(raw) if gunzip_objects else raw

    return open_object


class _Gunzipped(gzip.GzipFile):
    """A GzipFile that closes the stream it reads (an S3 body) when it is closed."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()
