"""gunicorn settings for Stratus, from the environment (README, "Configuration").

On a node (bin/start-node) gunicorn listens on a unix socket behind the node's nginx,
which sets GUNICORN_BIND; gunicorn trusts the forwarding headers of whatever connects
over that socket (only nginx can: the run directory is private). Run alone, it listens
on PORT.
"""

import os

_production = os.environ.get("DJANGO_ENV") == "production"

bind = os.environ.get("GUNICORN_BIND") or (
    f"{'0.0.0.0' if _production else '127.0.0.1'}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request may wait on AWS; Auto Scaling's lifecycle hook gives a stopping node this long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Heartbeat files in memory, not on the node's disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The control socket's default path is one per user ($HOME/.gunicorn/gunicorn.ctl), which
# every gunicorn of the machine would take from the one before; nothing here uses it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
# For a TCP bind only: over the node's unix socket gunicorn trusts its peer, nginx.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The scheme comes from X-Forwarded-Proto alone, which the node's nginx always sets; the
# other headers gunicorn would read by default pass through nginx from the client.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
wsgi_app = "project.wsgi:application"
