# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where backups are kept: an S3-compatible object store, or a directory on a volume.

Both stores hold objects under keys ("<tenant>/<backup id>/<part>") below the target's
prefix, and offer the same few calls: put a local file, put small bytes, get an object into a
local file, read small bytes, the size of an object, list keys under a prefix, delete keys.
A put is whole or absent: S3 makes an object visible only once its (multipart) upload
completes; the directory store writes a hidden temporary, fsyncs it and renames it. The
backup layout (engines/backup_set) builds "visible once complete" for a whole backup on that.

The S3 client is minio's (not boto3: botocore pins python-dateutil below 3, which the
kubernetes client needs). Its secret key never appears in an error: every message is
redacted with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import SaasError
from ..redact import redact_text

KINDS = ("s3", "directory")
PART_SIZE = 16 * 1024 * 1024
# Few and short retries: a store that is down fails the run in seconds, with a message, and
# the rerun starts over (a backup without its manifest is never visible).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120
RETRIES = 2


class ObjectStoreError(SaasError):
    """The backup target is unreachable, refuses us, or lost an object. Never holds a secret."""


@dataclass(frozen=True)
class Target:
    """One environment's backup target, from the inventory (request/inventory checks it)."""

    kind: str  # s3 | directory
    endpoint: str = ""  # s3: https://host[:port] (http:// only on loopback or when asked)
    bucket: str = ""
    prefix: str = ""  # below the bucket (s3) or the directory: "<prefix>/<tenant>/<backup id>/..."
    region: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    path: str = ""  # directory: where the volume is mounted
    ca_file: str = ""  # s3: a CA bundle for a store with a private certificate

    def describe(self):
        if self.kind == "directory":
            return f"directory {self.path}"
        return f"s3 {self.endpoint}/{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


def open_store(target: Target):
    if target.kind == "s3":
        return S3Store(target)
    if target.kind == "directory":
        return DirectoryStore(target)
    raise ObjectStoreError(f"backup_target.kind: {target.kind!r} is not one of {', '.join(KINDS)}")


def _full_key(prefix: str, key: str) -> str:
    return f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


class S3Store:
    def __init__(self, target: Target):
        from minio import Minio  # imported here: a controller without minio still runs every other module
        import urllib3

        address = urlsplit(target.endpoint)
        if address.scheme not in ("http", "https") or not address.netloc:
            raise ObjectStoreError(f"backup_target.endpoint: {target.endpoint!r} is not an http(s)://host[:port] address")
        self.target = target
        self._secrets = (target.secret_key,)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            retries=urllib3.Retry(total=RETRIES, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504)),
            cert_reqs="CERT_REQUIRED", ca_certs=target.ca_file or None,
        )
        self.client = Minio(address.netloc, access_key=target.access_key, secret_key=target.secret_key,
                            secure=address.scheme == "https", region=target.region or None, http_client=http)

    def _fail(self, doing: str, error: Exception) -> ObjectStoreError:
        from minio.error import S3Error

        if isinstance(error, S3Error):
            advice = {
                "NoSuchBucket": f"create the bucket {self.target.bucket} or correct backup_target.bucket",
                "AccessDenied": "give the access key read, write, list and delete on the bucket",
                "InvalidAccessKeyId": "correct the backup target's access key (its Secret)",
                "SignatureDoesNotMatch": "correct the backup target's secret key (its Secret)",
            }.get(error.code, "check the object store")
            text = f"{error.code}: {error.message}"
        else:
            advice = "check that the object store is up and reachable from here (endpoint, port, TLS)"
            text = f"{type(error).__name__}: {error}"
        return ObjectStoreError(redact_text(f"{doing} on {self.target.describe()} failed ({text}): {advice}, "
                                            "then run again.", self._secrets))

    def _call(self, doing, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ObjectStoreError:
            raise
        except Exception as error:  # noqa: BLE001 - minio and urllib3 raise many kinds; each is worded here
            raise self._fail(doing, error) from None

    def _key(self, key):
        return _full_key(self.target.prefix, key)

    def check(self):
        """Reachable, credentials valid, bucket present: the checks that refuse before a change."""
        if not self._call("looking up the bucket", self.client.bucket_exists, self.target.bucket):
            raise ObjectStoreError(f"backup_target.bucket: bucket {self.target.bucket} does not exist on "
                                   f"{self.target.endpoint}: create it, then run again.")
        # Listing needs the credentials to be valid (bucket_exists alone may answer anonymously).
        self._call("listing the bucket", lambda: next(iter(self.client.list_objects(
            self.target.bucket, prefix=self._key(""), recursive=False)), None))

    def put_file(self, key, path):
        self._call(f"uploading {key}", self.client.fput_object, self.target.bucket, self._key(key), path,
                   part_size=PART_SIZE, num_parallel_uploads=1)

    def put_bytes(self, key, data: bytes):
        import io

        self._call(f"uploading {key}", self.client.put_object, self.target.bucket, self._key(key), io.BytesIO(data),
                   len(data), content_type="application/json")

    def get_file(self, key, path):
        self._call(f"downloading {key}", self.client.fget_object, self.target.bucket, self._key(key), path,
                   tmp_file_path=path + ".download")

    def get_bytes(self, key):
        response = self._call(f"downloading {key}", self.client.get_object, self.target.bucket, self._key(key))
        try:
            return self._call(f"downloading {key}", response.read)
        finally:
            response.close()
            response.release_conn()

    def size(self, key):
        """The object's size, or None when there is none."""
        from minio.error import S3Error

        try:
            return self.client.stat_object(self.target.bucket, self._key(key)).size
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise self._fail(f"looking up {key}", error) from None
        except Exception as error:  # noqa: BLE001
            raise self._fail(f"looking up {key}", error) from None

    def keys(self, prefix):
        """Every key under prefix (relative to the target's prefix), sorted."""
        root = self._key("")
        found = self._call(f"listing {prefix}", lambda: [
            item.object_name for item in self.client.list_objects(self.target.bucket, prefix=self._key(prefix),
                                                                  recursive=True)])
        return sorted(name[len(root):] for name in found)

    def delete(self, keys):
        from minio.deleteobjects import DeleteObject

        keys = list(keys)
        if not keys:
            return
        errors = self._call("deleting objects", lambda: list(self.client.remove_objects(
            self.target.bucket, [DeleteObject(self._key(key)) for key in keys])))
        if errors:
            raise ObjectStoreError(f"deleting {len(errors)} object(s) on {self.target.describe()} failed "
                                   f"({errors[0].code}: {errors[0].message}): check the access key may delete, then "
                                   "run again.")


class DirectoryStore:
    """Objects as files under <path>/<prefix>/; a put is a hidden temporary, fsynced, renamed."""

    PARTIAL = ".partial-"

    def __init__(self, target: Target):
        if not target.path or not os.path.isabs(target.path):
            raise ObjectStoreError(f"backup_target.path: {target.path!r} is not an absolute directory path")
        self.target = target
        self.root = os.path.join(target.path, target.prefix.strip("/")) if target.prefix.strip("/") else target.path

    def _path(self, key):
        if key.startswith("/") or ".." in key.split("/"):
            raise ObjectStoreError(f"refusing object key {key!r}: keys are relative and never climb out of the target")
        return os.path.join(self.root, *key.split("/"))

    def _fail(self, doing, error):
        return ObjectStoreError(f"{doing} in {self.target.describe()} failed ({error}): check the volume is mounted, "
                                "has space and is writable, then run again.")

    def check(self):
        if not os.path.isdir(self.target.path):
            raise ObjectStoreError(f"backup_target.path: {self.target.path} is not a directory here: mount the backup "
                                   "volume there, then run again.")
        if not os.access(self.target.path, os.W_OK | os.X_OK):
            raise ObjectStoreError(f"backup_target.path: {self.target.path} is not writable here: check its owner and "
                                   "mode, then run again.")

    def _write(self, key, fill):
        final = self._path(key)
        directory = os.path.dirname(final)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            descriptor, partial = tempfile.mkstemp(prefix="." + os.path.basename(final) + self.PARTIAL, dir=directory)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.rename(partial, final)
            except BaseException:
                if os.path.exists(partial):
                    os.unlink(partial)
                raise
            descriptor = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise self._fail(f"writing {key}", error) from None

    def put_file(self, key, path):
        def fill(handle):
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, PART_SIZE)
        self._write(key, fill)

    def put_bytes(self, key, data: bytes):
        self._write(key, lambda handle: handle.write(data))

    def get_file(self, key, path):
        try:
            shutil.copyfile(self._path(key), path)
        except OSError as error:
            raise self._fail(f"reading {key}", error) from None

    def get_bytes(self, key):
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except OSError as error:
            raise self._fail(f"reading {key}", error) from None

    def size(self, key):
        try:
            return os.path.getsize(self._path(key))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._fail(f"looking up {key}", error) from None

    def keys(self, prefix):
        found = []
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                if self.PARTIAL in name:
                    continue  # a put still being written, or one a killed run left
                key = os.path.relpath(os.path.join(directory, name), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def delete(self, keys):
        for key in keys:
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass
            except OSError as error:
                raise self._fail(f"deleting {key}", error) from None
