"""simulator.s3: URIs, prefix downloads, uploads, safe tar.gz."""

from __future__ import annotations

import io
import tarfile

import pytest

from simulator.s3 import (
    DirSync,
    S3Error,
    S3Uri,
    download_prefix,
    pack_tar_gz,
    parse_s3_uri,
    s3_uri_problems,
    unpack_tar_gz,
    upload_dir,
)


def test_uri_parsing_and_rules():
    assert parse_s3_uri("s3://my-bucket/a/b/") == S3Uri("my-bucket", "a/b/")
    assert str(S3Uri("my-bucket", "a/").join("x", "/y/")) == "s3://my-bucket/a/x/y"
    assert str(S3Uri("my-bucket", "").join("job", "output")) == "s3://my-bucket/job/output"
    assert s3_uri_problems("s3://ok-bucket/x", "F") == []
    (p,) = s3_uri_problems("http://x/y", "OutputDataConfig.S3OutputPath")
    assert p.path == "OutputDataConfig.S3OutputPath" and "s3://" in p.fix
    for bad in ("s3://UPPER/x", "s3://ab/x", "s3://-bad/x", "s3://a..b/x", "s3://1.2.3.4/x"):
        assert s3_uri_problems(bad, "F"), bad
    with pytest.raises(S3Error, match="invalid bucket name"):
        parse_s3_uri("s3://Bad_Bucket/x")


def test_download_prefix_semantics(sm, bucket, put_s3, tmp_path):
    put_s3("d/train/a.csv", "a")
    put_s3("d/train/sub/b.csv", "b")
    put_s3("d/train2/c.csv", "c")
    put_s3("d/train/folder/", "")  # a console-made folder marker
    files = download_prefix(sm.s3, S3Uri(bucket, "d/train"), tmp_path / "t")
    rel = sorted(p.relative_to(tmp_path / "t").as_posix() for p in files)
    assert rel == ["2/c.csv", "a.csv", "sub/b.csv"]
    one = download_prefix(sm.s3, S3Uri(bucket, "d/train/a.csv"), tmp_path / "one")
    assert [p.name for p in one] == ["a.csv"] and one[0].read_text() == "a"
    with pytest.raises(S3Error, match="No S3 objects found"):
        download_prefix(sm.s3, S3Uri(bucket, "nothing"), tmp_path / "n")


def test_upload_dir_and_pack_roundtrip(sm, bucket, tmp_path):
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "deep" / "b.txt").write_text("B")
    keys = upload_dir(sm.s3, src, S3Uri(bucket, "up/load"))
    assert keys == ["up/load/a.txt", "up/load/deep/b.txt"]
    archive = pack_tar_gz(src, tmp_path / "out" / "model.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names == ["a.txt", "deep", "deep/b.txt"]  # relative names only
    assert not list((tmp_path / "out").glob("*.partial"))
    unpack_tar_gz(archive, tmp_path / "back")
    assert (tmp_path / "back" / "deep" / "b.txt").read_text() == "B"


def _tar_with(tmp_path, name: str, kind: bytes = tarfile.REGTYPE, link: str = ""):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        data = b"x"
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("name", ["../escape.py", "/etc/abs.py", "ok/../../up.py"])
def test_unsafe_members_refused(tmp_path, name):
    with pytest.raises(S3Error, match="unsafe member"):
        unpack_tar_gz(_tar_with(tmp_path, name), tmp_path / "dest")
    assert not (tmp_path / "escape.py").exists()


def test_link_out_of_destination_refused_by_data_filter(tmp_path):
    archive = _tar_with(tmp_path, "link", tarfile.SYMTYPE, "/etc/passwd")
    with pytest.raises(S3Error, match="unsafe member in .*: .link. is a link to an absolute path"):
        unpack_tar_gz(archive, tmp_path / "dest")


def test_dir_sync_uploads_settled_and_final_files(sm, bucket, tmp_path):
    src = tmp_path / "ckpt"
    src.mkdir()
    (src / "old.pt").write_text("restored")
    sync = DirSync(sm.s3, src, S3Uri(bucket, "ck"), interval=0.05)
    sync.mark_existing()  # restored files are not uploaded again
    (src / "new.pt").write_text("1")
    sync.sync(final=False)  # first sighting: not yet settled
    assert sm.s3.list_objects_v2(Bucket=bucket, Prefix="ck/").get("KeyCount") == 0
    sync.sync(final=False)
    sync.finish()
    listed = sm.s3.list_objects_v2(Bucket=bucket, Prefix="ck/")["Contents"]
    assert [o["Key"] for o in listed] == ["ck/new.pt"]


def test_failed_multipart_upload_leaves_no_object_and_no_upload(sm, bucket, tmp_path, monkeypatch):
    """Whole or absent: a multipart upload failing half-way is aborted (s3transfer's
    failure cleanup), so neither the key nor an open multipart upload remains."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    import simulator.s3 as s3mod

    mib = 1024 * 1024
    monkeypatch.setattr(
        s3mod,
        "TRANSFER_CONFIG",
        TransferConfig(multipart_threshold=5 * mib, multipart_chunksize=5 * mib, max_concurrency=1),
    )
    big = tmp_path / "model.tar.gz"
    big.write_bytes(b"\0" * (11 * mib))  # three parts
    client = boto3.client("s3")
    parts: list[int] = []

    def fail_second_part(params, **_):
        parts.append(params["query_string"]["partNumber"])
        if len(parts) == 2:
            raise OSError("disk went away mid-upload")

    client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
    with pytest.raises(OSError, match="mid-upload"):
        s3mod.upload_file(client, big, S3Uri(bucket, "out/model.tar.gz"))
    assert len(parts) >= 2  # it really was a multipart upload, stopped half-way
    with pytest.raises(client.exceptions.ClientError, match="404"):
        client.head_object(Bucket=bucket, Key="out/model.tar.gz")
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    s3mod.upload_file(client, big, S3Uri(bucket, "out/model.tar.gz"))  # a retry is whole
    assert client.head_object(Bucket=bucket, Key="out/model.tar.gz")["ContentLength"] == 11 * mib


def test_failing_pack_leaves_no_archive(tmp_path, monkeypatch):
    src = tmp_path / "model"
    src.mkdir()
    (src / "a.bin").write_text("a")
    (src / "b.bin").write_text("b")
    archive = tmp_path / "out" / "model.tar.gz"
    real_addfile = tarfile.TarFile.addfile

    def addfile(self, info, fileobj=None):
        if info.name == "b.bin":
            raise OSError("read error on b.bin")
        return real_addfile(self, info, fileobj)

    monkeypatch.setattr(tarfile.TarFile, "addfile", addfile)
    with pytest.raises(OSError, match="b.bin"):
        pack_tar_gz(src, archive)
    assert list((tmp_path / "out").iterdir()) == []  # neither the archive nor a .partial
