# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The environment a backup or restore Job's container gets: the one list of names that the
Job's manifest (manifests/backup_job) writes and the program (programs/backup_job) reads.

The database is named by libpq's own variables (PGHOST, PGPORT, ...), which pg_dump and
pg_restore read too; the object store's keys by the AWS names every S3 tool knows. Secrets
(PGPASSWORD, AWS_SECRET_ACCESS_KEY, ODOO_SAAS_IDENTITY) come from Secrets through secretKeyRef,
never as values in the Job.
"""

from __future__ import annotations

PROGRAM_MODULE = "ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job"
COMMANDS = ("backup", "restore", "import")

TENANT = "ODOO_SAAS_TENANT"  # backup: the tenant backed up; restore: the tenant restored into
SOURCE_TENANT = "ODOO_SAAS_SOURCE_TENANT"  # restore: whose backup (another tenant's, for a clone)
BACKUP_ID = "ODOO_SAAS_BACKUP_ID"  # backup: unset in a scheduled run, which names its own backup
KIND = "ODOO_SAAS_BACKUP_KIND"
RETENTION = "ODOO_SAAS_RETENTION"  # a scheduled backup: then prune by the plan's daily=N,weekly=N,monthly=N
PLAN = "ODOO_SAAS_PLAN"
ODOO_VERSION = "ODOO_SAAS_ODOO_VERSION"
FILESTORE = "ODOO_SAAS_FILESTORE"  # backup: filestore/<database> on the claim; restore: where it goes
SCRATCH = "ODOO_SAAS_SCRATCH"  # an emptyDir for the parts on their way
ENCRYPT_TO = "ODOO_SAAS_ENCRYPT_TO"  # an age recipient (public key); unset: parts are not encrypted
IDENTITY = "ODOO_SAAS_IDENTITY"  # restore: the age identity (secret key)
IMPORT_KEY = "ODOO_SAAS_IMPORT_KEY"  # import: the export's key in the store (below the prefix)
# restore, import: replace what the database and filestore hold (tenant_restore, Odoo stopped);
# the value names this run, which the database's comment records once it is done.
REPLACE_RUN = "ODOO_SAAS_REPLACE_RUN"

TARGET_KIND = "ODOO_SAAS_TARGET_KIND"
TARGET_PATH = "ODOO_SAAS_TARGET_PATH"
S3_ENDPOINT = "ODOO_SAAS_S3_ENDPOINT"
S3_BUCKET = "ODOO_SAAS_S3_BUCKET"
S3_PREFIX = "ODOO_SAAS_S3_PREFIX"
S3_REGION = "ODOO_SAAS_S3_REGION"
S3_CA_FILE = "ODOO_SAAS_S3_CA_FILE"
ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"

PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE = (
    "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE")

SECRET_VARIABLES = (PGPASSWORD, SECRET_KEY, IDENTITY)

# The Secret in the tenant's namespace that holds the target's keys (and, for a restore, the
# identity), written by the platform; the database's come from the tenant's own odoo-db Secret.
TARGET_SECRET = "odoo-backup-target"
TARGET_SECRET_KEYS = {ACCESS_KEY: "access_key", SECRET_KEY: "secret_key", IDENTITY: "identity"}
DB_SECRET_KEYS = {PGHOST: "host", PGPORT: "port", PGDATABASE: "database", PGUSER: "user", PGPASSWORD: "password"}
