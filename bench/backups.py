"""Benchmark 5: backup and restore throughput of the backup Job's program, against the floor.

The data: a scratch database on postgres-shared-1 holding DB_MB MiB of random bytes (bytea, so
pg_dump's compression cannot shrink it) and a filestore of FILES_MB one-MiB random files, like
attachments that are already compressed (PDFs, images).

- ours: programs/backup_job, as a Job runs it (the same code and environment), `backup` into
  the local S3 server (SeaweedFS), then `restore` into an empty database and directory. It
  works in sequence: pg_dump to a file, read back whole by pg_restore, the tar.gz, read back
  whole, each hashed, uploaded and checked; on restore each part downloaded and checked
  before anything is written.
- floor: `pg_dump --format=custom | upload` and `tar -cz | upload`, streamed (the dump and the
  upload run at once), nothing verified; restore: `download | pg_restore` and `download | tar -xz`.
- ours, replacing (what tenant_restore runs): `restore` again with ODOO_SAAS_REPLACE_RUN into the
  database and directory the first restore filled: the dump turned into a script first, then
  the drop of what the database holds, the script and the marker in one psql transaction, and
  the filestore swapped. Reported beside ours; the floor has no counterpart (it replaces nothing).

Same server, same user (the server's admin on both sides), same store, same gzip level (6),
one process at a time on each side. MiB/s is (DB_MB + FILES_MB) over the wall time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_set
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup import find_tool
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import job_contract as env
from tests.cluster import object_store, postgres, settings
from tests.integration import tenants

CHUNK = 1024 * 1024
SERVER = tenants.SHARED_1


def _fill(database, db_mb):
    with tenants.connect(SERVER, database) as conn:
        conn.execute("CREATE TABLE blobs (id serial PRIMARY KEY, data bytea NOT NULL)")
        with conn.cursor().copy("COPY blobs (data) FROM STDIN") as copy:
            for _megabyte in range(db_mb):
                copy.write_row((os.urandom(CHUNK),))


def _filestore(directory, files_mb):
    for index in range(files_mb):
        path = Path(directory) / f"{index % 256:02x}" / f"attachment-{index}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(CHUNK))


def _program_environment(prefix, database, filestore, scratch, backup_id):
    return {
        "PATH": os.environ["PATH"], "HOME": scratch, "PYTHONPATH": f"{settings.REPO / 'collections'}:{settings.REPO}",
        env.TENANT: "bench", env.BACKUP_ID: backup_id, env.PLAN: "bench", env.ODOO_VERSION: "18.0",
        env.FILESTORE: filestore, env.SCRATCH: scratch, env.TARGET_KIND: "s3",
        env.S3_ENDPOINT: f"http://{object_store.endpoint()}", env.S3_BUCKET: object_store.BUCKET, env.S3_PREFIX: prefix,
        env.ACCESS_KEY: object_store.ACCESS_KEY, env.SECRET_KEY: object_store.secret_key(),
        env.PGHOST: "127.0.0.1", env.PGPORT: str(SERVER.port), env.PGUSER: postgres.SUPERUSER,
        env.PGPASSWORD: SERVER.password(), env.PGDATABASE: database,
    }


def _timed(command, environment):
    started = time.monotonic()
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed: {(completed.stdout + completed.stderr)[-1500:]}")
    return time.monotonic() - started


def _pipe_seconds(producer, consume, environment):
    """Seconds for `producer | consume(stream)`: the command's stdout streamed straight on."""
    started = time.monotonic()
    process = subprocess.Popen(producer, stdout=subprocess.PIPE, env=environment)
    consume(process.stdout)
    if process.wait() != 0:
        raise RuntimeError(f"{producer[0]} failed with exit {process.returncode}")
    return time.monotonic() - started


def _floor(prefix, database, filestore, restore_database, restore_dir):
    client = object_store.client()
    pg_env = dict(os.environ, PGPASSWORD=SERVER.password())
    connection = ["--host=127.0.0.1", f"--port={SERVER.port}", f"--username={postgres.SUPERUSER}"]
    dump_key, files_key = f"{prefix}/floor/database.dump", f"{prefix}/floor/filestore.tar.gz"

    def upload(key):
        return lambda stream: client.put_object(object_store.BUCKET, key, stream, -1, part_size=16 * CHUNK)

    backup = _pipe_seconds([find_tool("pg_dump"), "--format=custom", *connection, f"--dbname={database}"],
                           upload(dump_key), pg_env)
    backup += _pipe_seconds(["tar", "-cz", "-C", filestore, "."], upload(files_key), dict(os.environ, GZIP="-6"))

    def download_into(command, key):
        started = time.monotonic()
        response = client.get_object(object_store.BUCKET, key)
        process = subprocess.Popen(command, stdin=subprocess.PIPE, env=pg_env)
        try:
            for chunk in response.stream(CHUNK):
                process.stdin.write(chunk)
        finally:
            process.stdin.close()
            response.close()
            response.release_conn()
        if process.wait() != 0:
            raise RuntimeError(f"{command[0]} failed with exit {process.returncode}")
        return time.monotonic() - started

    os.makedirs(restore_dir)
    restore = download_into([find_tool("pg_restore"), *connection, f"--dbname={restore_database}"], dump_key)
    restore += download_into(["tar", "-xz", "-C", restore_dir], files_key)
    return backup, restore


def run(db_mb, files_mb, say):
    """Figures of benchmark 5: {side: {backup_s, restore_s, backup_mib_s, restore_mib_s}}."""
    run_id = uuid.uuid4().hex[:6]
    prefix = f"bench-{run_id}"
    names = {side: f"bench_{run_id}_{side}" for side in ("source", "ours", "floor")}
    work = tempfile.mkdtemp(prefix="bench-backups-")
    try:
        with tenants.connect(SERVER) as admin:
            for name in names.values():
                admin.execute(f'CREATE DATABASE "{name}"')
        say(f"benchmark 5: writing {db_mb} MiB into {names['source']} and a {files_mb} MiB filestore")
        _fill(names["source"], db_mb)
        filestore = os.path.join(work, "filestore")
        _filestore(filestore, files_mb)
        program = [sys.executable, "-m", env.PROGRAM_MODULE]
        backup_id = backup_set.new_backup_id("manual")
        scratch = os.path.join(work, "scratch")
        os.makedirs(scratch)
        say("benchmark 5: our backup (programs/backup_job backup)")
        ours_backup = _timed(program + ["backup"], _program_environment(prefix, names["source"], filestore, scratch,
                                                                        backup_id))
        say("benchmark 5: our restore (programs/backup_job restore)")
        ours_restore = _timed(program + ["restore"], _program_environment(
            prefix, names["ours"], os.path.join(work, "restored-ours"), scratch, backup_id))
        say("benchmark 5: our replacing restore (tenant_restore's path: ODOO_SAAS_REPLACE_RUN)")
        ours_replace = _timed(program + ["restore"], dict(_program_environment(
            prefix, names["ours"], os.path.join(work, "restored-ours"), scratch, backup_id),
            **{env.REPLACE_RUN: f"bench-{run_id}"}))
        say("benchmark 5: the floor (pg_dump | upload, tar | upload, and back)")
        floor_backup, floor_restore = _floor(prefix, names["source"], filestore, names["floor"],
                                             os.path.join(work, "restored-floor"))
    finally:
        with tenants.connect(SERVER) as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = object_store.client()
        for item in list(client.list_objects(object_store.BUCKET, prefix=f"{prefix}/", recursive=True)):
            client.remove_object(object_store.BUCKET, item.object_name)
        shutil.rmtree(work, ignore_errors=True)
    total = db_mb + files_mb

    def side(backup_s, restore_s):
        return {"backup_s": round(backup_s, 2), "restore_s": round(restore_s, 2),
                "backup_mib_s": round(total / backup_s, 1), "restore_mib_s": round(total / restore_s, 1)}
    return {"db_mb": db_mb, "files_mb": files_mb, "ours": side(ours_backup, ours_restore),
            "floor": side(floor_backup, floor_restore),
            "ours_replacing": {"restore_s": round(ours_replace, 2), "restore_mib_s": round(total / ours_replace, 1)}}


if __name__ == "__main__":  # python -m bench.backups [DB_MB FILES_MB]
    sizes = [int(v) for v in sys.argv[1:3]] or [200, 200]
    print(run(*sizes, say=lambda message: print(message, file=sys.stderr)), file=sys.stdout)
    sys.stdout.flush()
