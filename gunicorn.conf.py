"""gunicorn settings for Stratus, from the environment (README, "Configuration")."""

import os

_production = os.environ.get("DJANGO_ENV") == "production"

# Locally only this machine may connect; in production the load balancer does.
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
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "project.wsgi:application"
