"""`python -m localaws.simpledb` as real processes: startup, logging, signals, shared data."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError

from localaws import free_port
from tests.fixtures.simpledb import sdb_client

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCESS_KEY = "AKIDPROCESS"
SECRET_KEY = "process-secret"
START_SECONDS = 15


def command(*arguments):
    return [sys.executable, "-u", "-m", "localaws.simpledb", *arguments]


class Emulator:
    """One emulator process, its stdout lines collected by a reader thread."""

    def __init__(self, data_dir):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            command("--port", str(self.port), "--data-dir", str(data_dir),
                    "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines = queue.Queue()
        self.output = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)  # end of output

    def wait_ready(self):
        """Wait for the "listening" line (printed once the socket is bound), then ListDomains."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"emulator did not start: {''.join(self.output)}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"emulator exited: {''.join(self.output)}"
            if "listening on" in line:
                break
        self.client().list_domains()
        return self

    def client(self):
        return sdb_client(self.endpoint_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY)

    def stop(self, signum=signal.SIGTERM):
        """Send `signum`, wait for the exit and the end of output; returns the exit code."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=START_SECONDS)
        self._reader.join(timeout=START_SECONDS)
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=START_SECONDS)
        self.process.stdout.close()


@pytest.fixture
def emulators():
    """Starts emulator processes on request; kills whichever are still running afterwards."""
    started = []

    def start(data_dir):
        emulator = Emulator(data_dir)
        started.append(emulator)
        return emulator.wait_ready()

    yield start
    for emulator in started:
        emulator.kill()


def value_of(client, domain, item, name="n"):
    response = client.get_attributes(DomainName=domain, ItemName=item, ConsistentRead=True)
    values = [pair["Value"] for pair in response.get("Attributes", []) if pair["Name"] == name]
    return values[0] if values else None


# -- one process -------------------------------------------------------------------------
def test_process_answers_boto3(emulators, tmp_path):
    client = emulators(tmp_path).client()
    client.create_domain(DomainName="started")
    assert client.list_domains()["DomainNames"] == ["started"]


def test_process_logs_one_line_per_request_on_stdout(emulators, tmp_path):
    emulator = emulators(tmp_path)  # wait_ready made one ListDomains call
    client = emulator.client()
    for _ in range(3):
        client.list_domains()
    assert emulator.stop() == 0
    logged = [line for line in emulator.output if "action=ListDomains" in line]
    assert len(logged) == 4, emulator.output
    assert all("status=200" in line for line in logged)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_process_exits_with_code_zero_on_signal(emulators, tmp_path, signum):
    emulator = emulators(tmp_path)
    assert emulator.stop(signum) == 0


def test_data_survives_a_restart_on_the_same_data_dir(emulators, tmp_path):
    first = emulators(tmp_path)
    client = first.client()
    client.create_domain(DomainName="kept")
    client.put_attributes(DomainName="kept", ItemName="item",
                          Attributes=[{"Name": "n", "Value": "42"}])
    assert first.stop() == 0
    second = emulators(tmp_path).client()
    assert second.list_domains()["DomainNames"] == ["kept"]
    assert value_of(second, "kept", "item") == "42"


# -- two processes on one data directory -------------------------------------------------
def test_two_processes_on_one_data_dir_see_each_others_writes(emulators, tmp_path):
    one, two = emulators(tmp_path).client(), emulators(tmp_path).client()
    one.create_domain(DomainName="shared")
    one.put_attributes(DomainName="shared", ItemName="from-one",
                       Attributes=[{"Name": "n", "Value": "1"}])
    two.put_attributes(DomainName="shared", ItemName="from-two",
                       Attributes=[{"Name": "n", "Value": "2"}])
    assert value_of(two, "shared", "from-one") == "1"
    assert value_of(one, "shared", "from-two") == "2"


def increment(client, times):
    """Add 1 to the counter `times` times with read-then-conditional-put, retrying conflicts."""
    done = 0
    while done < times:
        current = value_of(client, "counters", "counter")
        try:
            client.put_attributes(
                DomainName="counters", ItemName="counter",
                Attributes=[{"Name": "n", "Value": str(int(current) + 1), "Replace": True}],
                Expected={"Name": "n", "Value": current},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailed":
                raise
            continue
        done += 1


def test_conditional_counter_incremented_from_two_processes_is_exact(emulators, tmp_path):
    processes = [emulators(tmp_path), emulators(tmp_path)]
    setup = processes[0].client()
    setup.create_domain(DomainName="counters")
    setup.put_attributes(DomainName="counters", ItemName="counter",
                         Attributes=[{"Name": "n", "Value": "0"}])
    # boto3 client creation is not thread-safe: make every client before starting threads.
    clients = [emulator.client() for emulator in processes for _ in range(2)]
    errors = []

    def work(client):
        try:
            increment(client, 25)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert value_of(setup, "counters", "counter") == str(len(clients) * 25)


# -- command-line validation -------------------------------------------------------------
def run_rejected(*arguments):
    return subprocess.run(command(*arguments), cwd=ROOT, capture_output=True, text=True,
                          timeout=START_SECONDS)


def test_memory_and_data_dir_together_are_rejected(tmp_path):
    result = run_rejected("--port", str(free_port()), "--memory", "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "--memory" in result.stderr


def test_fail_rate_above_one_is_rejected():
    result = run_rejected("--port", str(free_port()), "--fail-rate", "2")
    assert result.returncode != 0
    assert "--fail-rate" in result.stderr


def test_port_in_use_is_one_line_and_exit_status_1():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(command("--port", str(port)), cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"localaws.simpledb: cannot start: port {port} on 127.0.0.1 is already in use (--port); "
        f"stop what holds it, or choose another port (0: any free port)"
    ]
    assert "Traceback" not in result.stdout + result.stderr
