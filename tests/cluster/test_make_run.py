"""The process tree of `make run` (Procfile): the web and the worker wait for the local stack's
endpoint file, a taken port is one line, and on Ctrl-C the stack stops last."""

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from localaws import free_port

from .conftest import ROOT

BIN = os.path.join(ROOT, "bin")


def env_with(**variables):
    return {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
            **variables}


def write_atomically(path, text):
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)


def test_with_local_aws_runs_its_command_on_the_endpoints_the_stack_wrote(tmp_path):
    env_file = tmp_path / "localaws.env"
    process = subprocess.Popen(
        [f"{BIN}/with-local-aws", "sh", "-c", 'echo "$AWS_ENDPOINT_URL_S3 $AWS_ENDPOINT_URL_SQS"'],
        cwd=ROOT, env=env_with(STRATUS_LOCALAWS_ENV=str(env_file)),
        stdout=subprocess.PIPE, text=True)
    write_atomically(env_file, "AWS_ENDPOINT_URL_S3=http://127.0.0.1:45661\n"
                               "AWS_ENDPOINT_URL_SQS=http://127.0.0.1:45662\n"
                               "AWS_ENDPOINT_URL_SIMPLEDB=http://127.0.0.1:45663\n")
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert output.split() == ["http://127.0.0.1:45661", "http://127.0.0.1:45662"]


def test_with_local_aws_gives_up_in_one_line_when_the_stack_never_comes(tmp_path):
    result = subprocess.run(
        [f"{BIN}/with-local-aws", "true"], cwd=ROOT, capture_output=True, text=True,
        env=env_with(STRATUS_LOCALAWS_ENV=str(tmp_path / "never.env"), STRATUS_LOCALAWS_WAIT="1"),
        timeout=30)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "the local AWS stack did not start within 1s" in result.stderr


def test_make_run_on_a_taken_port_says_so_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, f"{BIN}/check-port", str(port)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"make run: port {port} is already in use (another make run?); "
        f"run on another port with: PORT={port + 1} make run"]


def test_make_run_on_a_free_port_goes_ahead():
    result = subprocess.run([sys.executable, f"{BIN}/check-port", str(free_port())],
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (0, "")


class Honcho:
    """honcho running a Procfile, as `make run` does; its output collected line by line."""

    def __init__(self, procfile, env):
        self.lines = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", ROOT],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text, timeout=120, after=0):
        """Until a line from the `after`-th on holds `text`; False after `timeout` s."""
        with self.changed:
            return self.changed.wait_for(
                lambda: any(text in line for line in self.lines[after:]), timeout=timeout)

    def index(self, text):
        return next(n for n, line in enumerate(self.lines) if text in line)


@pytest.mark.slow
def test_on_ctrl_c_the_worker_stops_before_the_local_stack_without_a_connection_error(tmp_path):
    env_file = tmp_path / "localaws.env"
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        # Like make run's web, it stops at once; honcho kills what still runs 5 s after.
        "web: bin/with-local-aws sleep 600\n"
        "worker: bin/with-local-aws sh -c 'python manage.py provision_aws "
        "&& python manage.py migrate --noinput && exec bin/start-worker'\n"
        f"aws: bin/start-aws --env-file {env_file} --memory --log-requests "
        f"--moto-port {free_port()} --simpledb-port {free_port()}\n")
    honcho = Honcho(procfile, env_with(
        STRATUS_LOCALAWS_ENV=str(env_file), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    try:
        assert honcho.wait_for(" starting queues="), "\n".join(honcho.lines)
        # The stack logs each request (--log-requests): once it logs one after the worker
        # started, the worker's long polls are under way.
        assert honcho.wait_for("aws.1", timeout=60,
                               after=honcho.index(" starting queues=") + 1), "\n".join(honcho.lines)
        honcho.process.send_signal(signal.SIGINT)
        honcho.process.wait(timeout=60)
    finally:
        if honcho.process.poll() is None:
            honcho.process.kill()
    output = "\n".join(honcho.lines)
    assert "receive failed" not in output
    assert "Traceback" not in output
    # The worker stopped of itself, within honcho's 5 s: it did not have to be killed. (The
    # stack holds nothing worth a clean stop; on a loaded machine honcho may kill it.)
    assert "SIGKILL to worker" not in output
    assert honcho.index("worker.1 stopped") < honcho.index("aws.1 stopped")

