"""python -m ansible_collections.odoo_saas.kit.controller serve | token create|list|revoke

`serve` runs the API and its workers; `token` manages API tokens in the ledger (the secret is
printed once, by `create`). Settings come from the environment (settings.py)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import api_tokens, pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.connections import ledger_connection
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SaasError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.api_worker import run_next
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.ledger_threads import LedgerThreads
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import failure_message

from . import settings as settings_module
from .webhook_delivery import deliver_due


def serve(settings, host, port, threads):
    import waitress

    from .app import create_app, ledger_pool

    log = logging.getLogger("saas-controller")
    pool = ledger_pool(settings.config, size=threads)

    def connect():
        return pg.connect(ledger_connection(settings.config))

    def on_error(error):
        log.error("%s: %s", threading.current_thread().name, failure_message(settings.config, error))

    background = [
        LedgerThreads("saas-worker", settings.workers, connect, lambda conn: run_next(conn, settings.config), on_error=on_error),
        LedgerThreads("saas-webhooks", 1, connect, lambda conn: deliver_due(conn, settings.webhook_retry_seconds), on_error=on_error),
    ]
    for group in background:
        group.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"odoo-saas-kit controller on http://{host}:{port}/ ({settings.workers} workers, namespace "
          f"{settings.platform.platform_namespace})", flush=True)
    try:
        waitress.serve(create_app(settings, pool), host=host, port=port, threads=threads, ident="odoo-saas-kit")
    finally:
        for group in background:
            group.stop(timeout=5)
        pool.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="saas-controller")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="run the HTTP API and its workers")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8080)
    serving.add_argument("--threads", type=int, default=8, help="requests served at once")
    tokens = commands.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    creating = tokens.add_parser("create")
    creating.add_argument("--name", required=True)
    creating.add_argument("--scope", choices=api_tokens.SCOPES, required=True)
    tokens.add_parser("list")
    revoking = tokens.add_parser("revoke")
    revoking.add_argument("id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = settings_module.load()
        if args.command == "serve":
            serve(settings, args.host, args.port, args.threads)
            return 0
        conn = pg.connect(ledger_connection(settings.config))
        with conn:
            if args.action == "create":
                token, text = api_tokens.create(conn, args.name, args.scope)
                print(f"token {token.id} ({token.scope}, {token.name}); keep it, it is shown once:\n{text}")
            elif args.action == "list":
                for row in api_tokens.list_tokens(conn):
                    print(f"{row['id']}  {row['scope']:<8}  {row['name']}  created {row['created_at']}"
                          + (f"  revoked {row['revoked_at']}" if row["revoked_at"] else ""))
            elif not api_tokens.revoke(conn, args.id):
                print(f"no live token {args.id}: `token list` shows them", file=sys.stderr)
                return 1
        return 0
    except SaasError as error:
        print(f"saas-controller: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
