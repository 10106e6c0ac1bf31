"""The local platform's object store (tests/cluster/object_store.py) is a real S3 API on
loopback only: signed requests store and return bytes exactly, anything unsigned or wrongly
signed is refused, and an upload that fails half way leaves no object to see, which is what
a backup's "visible only once complete" rests on."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
from minio import Minio
from minio.error import S3Error

from tests.cluster import object_store

MIB = 1024 * 1024


@pytest.fixture
def store():
    return object_store.client()


@pytest.fixture
def prefix(store):
    name = f"tests/{uuid.uuid4().hex[:8]}/"
    yield name
    for obj in store.list_objects(object_store.BUCKET, prefix=name, recursive=True):
        store.remove_object(object_store.BUCKET, obj.object_name)


def read(store, key):
    response = store.get_object(object_store.BUCKET, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_a_multipart_upload_comes_back_byte_for_byte_and_is_listed(store, prefix):
    data = os.urandom(3 * MIB) * 4  # 12 MiB: three 5 MiB parts
    store.put_object(object_store.BUCKET, prefix + "db.dump", io.BytesIO(data), len(data), part_size=5 * MIB)
    assert hashlib.sha256(read(store, prefix + "db.dump")).digest() == hashlib.sha256(data).digest()
    listed = {obj.object_name: obj.size for obj in store.list_objects(object_store.BUCKET, prefix=prefix, recursive=True)}
    assert listed == {prefix + "db.dump": len(data)}


def test_unsigned_and_wrongly_signed_requests_are_refused(store, prefix):
    store.put_object(object_store.BUCKET, prefix + "secret", io.BytesIO(b"x"), 1)
    wrong = Minio(object_store.endpoint(), access_key=object_store.ACCESS_KEY, secret_key="not-the-secret",
                  secure=False, region=object_store.REGION)
    with pytest.raises(S3Error) as refused:
        read(wrong, prefix + "secret")
    assert refused.value.code in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")
    anonymous = Minio(object_store.endpoint(), secure=False, region=object_store.REGION)
    with pytest.raises(S3Error) as refused:
        read(anonymous, prefix + "secret")
    assert refused.value.code == "AccessDenied"


class Failing(io.RawIOBase):
    """A stream that breaks after `good` bytes, as a dump does when its database goes away."""

    def __init__(self, good):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise OSError("the source went away")
        size = min(len(buffer), self.left)
        buffer[:size] = b"\0" * size
        self.left -= size
        return size


def test_an_upload_that_fails_half_way_leaves_no_object(store, prefix):
    with pytest.raises(OSError, match="went away"):
        store.put_object(object_store.BUCKET, prefix + "partial.dump", io.BufferedReader(Failing(11 * MIB)), -1,
                         part_size=5 * MIB)
    assert list(store.list_objects(object_store.BUCKET, prefix=prefix, recursive=True)) == []
    with pytest.raises(S3Error) as missing:
        store.stat_object(object_store.BUCKET, prefix + "partial.dump")
    assert missing.value.code == "NoSuchKey"


def listening(pid):
    """The addresses the process listens on, from /proc (IPv4 as a.b.c.d:port, IPv6 as its hex)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            if len(address) == 8:
                address = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            found.append(f"{address}:{int(port, 16)}")
    return found


def test_it_listens_on_loopback_only():
    pid = object_store.daemon().pid()
    assert pid, "the object store is not running"
    addresses = listening(pid)
    assert f"127.0.0.1:{object_store.PORTS.s3}" in addresses, addresses
    assert all(address.startswith("127.0.0.1:") for address in addresses), addresses
