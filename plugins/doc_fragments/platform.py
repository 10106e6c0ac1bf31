# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """The platform connection and settings shared by every module of the collection.

    Set them once per play with `module_defaults: {group/odoo_saas.kit.platform: {...}}`.
    """

    # The ledger's and the shared servers' connections and the backup target and key: what
    # holds the platform's passwords and keys.
    # Modules that take every platform option extend both fragments; platform_check only this one.
    DATABASES = r"""
options:
  ledger:
    description:
      - The tenant ledger database (C(odoo_saas_ledger)).
    type: dict
    suboptions:
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: Port.
        type: int
        default: 5432
      database:
        description: Database name.
        type: str
        default: saas_ledger
      user:
        description: Role the automation logs in as.
        type: str
        required: true
      password:
        description: Its password.
        type: str
        required: true
      sslmode:
        description: libpq sslmode.
        type: str
        default: prefer
  shared_servers:
    description:
      - The shared PostgreSQL servers (C(odoo_saas_shared_servers)), as the controller reaches them with an admin
        role, and as tenant pods reach them in the cluster.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Server name, C(postgres-shared-N); also its namespace.
        type: str
        required: true
      host:
        description: Host name or address the controller connects to.
        type: str
        required: true
      port:
        description: Port the controller connects to.
        type: int
        default: 5432
      admin_user:
        description: Admin role (creates tenants' roles and databases).
        type: str
        required: true
      admin_password:
        description: Its password.
        type: str
        required: true
      cluster_host:
        description: Host tenant pods connect to; defaults to C(postgres.<name>.svc.cluster.local).
        type: str
      cluster_port:
        description: Port tenant pods connect to.
        type: int
        default: 5432
      sslmode:
        description: libpq sslmode for the admin connection.
        type: str
        default: prefer
  backup_target:
    description:
      - Where this environment's backups go (C(odoo_saas_backup_target)); backups are taken by Jobs in the cluster.
      - Unset, on-demand and scheduled backups are refused with a message saying so.
    type: dict
    suboptions:
      kind:
        description: C(s3) for any S3-compatible object store; C(directory) for a volume claim in each tenant namespace.
        type: str
        choices: [s3, directory]
        required: true
      endpoint:
        description: The store's address, C(https://host[:port]); plain http only on loopback or with O(backup_target.insecure).
        type: str
      bucket:
        description: The bucket; it must exist.
        type: str
      prefix:
        description: Key prefix of this environment's backups, such as C(prod); each backup is C(<prefix>/<tenant>/<backup id>/).
        type: str
        default: ''
      region:
        description: The store's region, where it needs one.
        type: str
        default: ''
      access_key:
        description: The access key (from a vault or Secret; never logged).
        type: str
      secret_key:
        description: The secret key (from a vault or Secret; never logged).
        type: str
      insecure:
        description: Allow a plain http endpoint that is not on loopback.
        type: bool
        default: false
      egress_cidrs:
        description: Where the endpoint is, for the backup Jobs' NetworkPolicy; empty means anywhere outside the cluster.
        type: list
        elements: str
        default: []
      claim:
        description: O(backup_target.kind=directory), the PersistentVolumeClaim in each tenant namespace that holds backups.
        type: str
  backup_encryption:
    description: Client-side encryption of every backup part in the age format (C(odoo_saas_backup_encryption)).
    type: dict
    suboptions:
      recipient:
        description: The platform key's public half (C(age1...)); backup Jobs encrypt to it and hold nothing that decrypts.
        type: str
      identity:
        description: The platform key's secret half (C(AGE-SECRET-KEY-1...)), needed only to verify or restore.
        type: str
"""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig of the cluster. Ignored when O(host) is set.
      - Defaults to C(~/.kube/config) (or E(KUBECONFIG)).
    type: path
  context:
    description: The kubeconfig context to use.
    type: str
  host:
    description: URL of the Kubernetes API server, instead of a kubeconfig.
    type: str
  api_key:
    description: Bearer token for O(host).
    type: str
  validate_certs:
    description: Verify the API server's certificate.
    type: bool
    default: true
  ca_cert:
    description: CA bundle that signed the API server's certificate.
    type: path
  client_cert:
    description: Client certificate for the API server.
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  environment:
    description: Environment name (C(odoo_saas_environment)), used in messages.
    type: str
    default: unset
  base_domain:
    description: Tenants are served at C(<name>.<base_domain>) (C(odoo_saas_base_domain)). Required by M(odoo_saas.kit.tenant).
    type: str
  platform_namespace:
    description: The platform namespace (C(odoo_saas_platform_namespace)).
    type: str
    default: saas-system
  plans:
    description: Tenant plans (C(odoo_saas_plans)); see docs/configuration.md. Required by M(odoo_saas.kit.tenant).
    type: dict
  ingress_class:
    description: Traefik's IngressClass.
    type: str
    default: traefik
  ingress_namespace:
    description: Namespace of Traefik's pods; tenant NetworkPolicies admit traffic from it only.
    type: str
    default: traefik
  cert_issuer:
    description: cert-manager ClusterIssuer for tenant certificates.
    type: str
    default: selfsigned
  storage_class:
    description: StorageClass of filestore and database volumes.
    type: str
    default: microk8s-hostpath
  shared_server_capacity:
    description: Tenants per shared server.
    type: int
    default: 50
  backup_dir:
    description: Directory on the controller where a removal's final backup is written (until it moves into the cluster).
    type: path
    default: /var/backups/odoo-saas
  backup_image:
    description: The image the backup and restore Jobs run (the collection and a PostgreSQL client, built by a role).
    type: str
  deletion_protection:
    description: Refuse to remove tenants (C(odoo_saas_deletion_protection)).
    type: bool
    default: false
  automation_account:
    description:
      - The automation's ServiceAccount in O(platform_namespace) (C(odoo_saas_automation_account)).
      - Each tenant namespace gets a RoleBinding granting it the ClusterRole C(odoo-saas-tenant), the only access
        the automation has inside namespaces; the role C(odoo_saas.kit.saas_system) creates both.
    type: str
    default: odoo-saas-automation
  pod_cidr:
    description:
      - The cluster's pod range (C(odoo_saas_pod_cidr)); MicroK8s' Calico default. No egress rule opens it, so a
        tenant never reaches another tenant's pods (or the platform's) through O(egress).
    type: str
    default: 10.1.0.0/16
  service_cidr:
    description:
      - The cluster's service range (C(odoo_saas_service_cidr)); MicroK8s' default. No egress rule opens it (the
        API server's and the shared servers' Services live there).
    type: str
    default: 10.152.183.0/24
  egress:
    description:
      - Where tenants' Odoo pods may connect outside the cluster (C(odoo_saas_egress)), besides DNS and their
        database. Each entry is a mapping with C(cidr) (default C(0.0.0.0/0)), C(protocol) (C(TCP) or C(UDP),
        default C(TCP)) and C(ports) (a list of 1 to 32 port numbers).
      - Unset, SMTP (TCP 25, 465, 587), IMAP (TCP 993) and HTTPS (TCP 443) to any address. An empty list allows
        nothing outside.
      - Every rule excludes the cloud metadata address C(169.254.169.254), O(pod_cidr), O(service_cidr) and
        O(egress_except); a rule inside one of them is refused. A plan may replace the list (its C(egress) key) or
        add to it (C(extra_egress)).
    type: list
    elements: dict
  egress_except:
    description:
      - More ranges no egress rule opens (C(odoo_saas_egress_except)), such as the nodes' network, where the
        kubelet, the API server and the shared servers' NodePorts listen.
    type: list
    elements: str
    default: []
  postgres_image:
    description:
      - Image of dedicated PostgreSQL servers (C(odoo_saas_postgres_image)), one exact build of the official
        Debian image (C(<major>.<minor>-<debian release>), PostgreSQL 15 or later) or a digest, so every node runs
        the same PostgreSQL.
    type: str
    default: postgres:16.10-bookworm
"""
