"""`manage.py serve_node` (bin/start-node): one web node, nginx in front of gunicorn."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.ops.node import Node, NodeError


def port_number(value):
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError(value)
    return port


class Command(BaseCommand):
    help = ("Serve the site as one node: nginx on the port, gunicorn behind it on a unix "
            "socket, until SIGTERM or SIGINT.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=port_number, default=settings.PORT,
                            help="nginx's port (default: PORT, 8000)")
        parser.add_argument("--run-dir", help="socket, nginx.conf, pid and temporary files "
                                              "(default: var/node-PORT)")
        parser.add_argument("--workers", type=int, help="gunicorn workers (WEB_CONCURRENCY)")

    def handle(self, *args, port, run_dir, workers, **options):
        node = Node(port, run_dir=run_dir, workers=workers)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: node.stopping.set())
        try:
            node.prepare()
            node.start()
            if not node.stopping.is_set():
                self.stdout.write(f"Stratus node serving at {node.url} "
                                  f"(nginx, gunicorn on {node.socket})")
                self.stdout.flush()
            node.watch()
        except NodeError as error:
            raise CommandError(str(error)) from None
        finally:
            node.stop()
