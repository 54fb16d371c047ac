"""Real processes: a SimpleDB emulator with injected faults and several Django web nodes."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from localaws import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 60


def require_haproxy():
    """Skip (a failure under CI=true) when HAProxy is missing: make test installs it."""
    from localaws.balancer import BalancerError
    from localaws.balancer.process import haproxy_binary

    try:
        haproxy_binary()
    except BalancerError as missing:
        pytest.skip(str(missing))


def logged_in_session(url, username, password, timeout):
    """A requests session logged in at `url` through the site's log-in form."""
    session = requests.Session()
    session.get(url + "/accounts/login/", timeout=timeout)
    response = session.post(url + "/accounts/login/", data={
        "username": username, "password": password,
        "csrfmiddlewaretoken": session.cookies["csrftoken"]}, allow_redirects=False,
        timeout=timeout)
    assert response.status_code == 302, response.text[:300]
    return session


def wait_until_answering(url, process, timeout=START_TIMEOUT):
    """Poll `url` until it answers (any status), or fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)  # polling a starting process, not waiting for an event we own
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Cluster:
    """An emulator process and web node processes, all stopped at the end of the test."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.processes = []
        self.simpledb_url = None
        self.env = None
        self.run_dirs = []
        self.node_logs = {}
        self.node_processes = {}

    def start_moto(self):
        """moto's server for S3 and SQS, as the local stack runs it."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-p", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url, process)
        return url

    def start_simpledb(self, *flags, **settings):
        """The emulator with `flags` holding the state, moto for S3 and SQS, provisioned and
        migrated.

        `settings` become environment variables of every Django process started after.
        """
        moto_url = self.start_moto()
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "localaws.simpledb", "--port", str(port), "--memory",
             "--any-credentials", *flags],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        self.simpledb_url = f"http://127.0.0.1:{port}"
        wait_until_answering(self.simpledb_url, process)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.cluster.settings",
            "DATABASE_URL": f"sqlite:///{self.tmp_path / 'db.sqlite3'}",
            # This stack's SimpleDB holds the state, whichever store the test run chose.
            "STRATUS_STATE_STORE": "simpledb",
            "AWS_ENDPOINT_URL_SIMPLEDB": self.simpledb_url,
            "AWS_ENDPOINT_URL_S3": moto_url,
            "AWS_ENDPOINT_URL_SQS": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": "us-east-1",
            **settings,
        }
        self.manage("provision_aws")
        self.manage("migrate", "--noinput")
        return self.simpledb_url

    def start_dynamodb_store(self, **settings):
        """moto alone (S3, SQS, DynamoDB) with STRATUS_STATE_STORE=dynamodb, provisioned and
        migrated: no SimpleDB anywhere, its endpoint a port nothing listens on, so any use
        of it fails loudly. `settings` become environment variables as for start_simpledb.
        """
        moto_url = self.start_moto()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.cluster.settings",
            "DATABASE_URL": f"sqlite:///{self.tmp_path / 'db.sqlite3'}",
            "STRATUS_STATE_STORE": "dynamodb",
            "AWS_ENDPOINT_URL_SIMPLEDB": f"http://127.0.0.1:{free_port()}",
            "AWS_ENDPOINT_URL_S3": moto_url,
            "AWS_ENDPOINT_URL_SQS": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": "us-east-1",
            **settings,
        }
        self.manage("provision_aws")
        self.manage("migrate", "--noinput")
        return moto_url

    def manage(self, *args, **extra_env):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                                env={**self.env, **extra_env}, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def create_user(self, username, password):
        self.manage("shell", "--no-imports", "-c",
                    "from django.contrib.auth import get_user_model; "
                    f"get_user_model().objects.create_user({username!r}, password={password!r})")

    def start_web(self):
        """A gunicorn web node; returns its base URL."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
             "--access-logfile", "/dev/null"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url + "/healthz", process)
        return url

    def start_node(self):
        """A whole node as bin/start-node runs it: nginx in front of gunicorn; its base URL.

        The node's output (nginx's and gunicorn's logs) goes to `self.node_logs[url]`.
        """
        if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
            pytest.skip("nginx is not installed (bin/install-system-packages installs it)")
        port = free_port()
        # A unix socket's path must stay short; pytest's tmp_path can be too deep.
        run_dir = tempfile.mkdtemp(prefix="stratus-node-")
        self.run_dirs.append(run_dir)
        url = f"http://127.0.0.1:{port}"
        self.node_logs[url] = self.tmp_path / f"node-{port}.log"
        with open(self.node_logs[url], "ab") as log:
            process = subprocess.Popen(
                ["bin/start-node", "--port", str(port), "--run-dir", run_dir, "--workers", "1"],
                cwd=ROOT, env={**self.env, "PATH": f"{os.path.dirname(sys.executable)}:"
                                                  f"{self.env['PATH']}"},
                stdout=log, stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        self.node_processes[url] = process
        wait_until_answering(url + "/healthz", process)
        return url

    def process_serving(self, url):
        """The process of the node started at `url` (bin/start-node's, nginx and gunicorn
        under it)."""
        return self.node_processes[url]

    def stop_simpledb(self):
        """Stop the emulator (the first process after moto), as an outage would."""
        emulator = self.processes[1]
        emulator.terminate()
        emulator.wait(timeout=30)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for run_dir in self.run_dirs:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    yield cluster
    cluster.stop()
