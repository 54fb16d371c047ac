"""`python -m localaws` and its in-process twin serve S3, SQS and SimpleDB together."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.simpledb.control import change_faults
from localaws.stack import MOTO_PORT, SIMPLEDB_PORT
from tests.fixtures.simpledb import raw_request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The endpoint variables the stack prints, one per service it serves.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS",
                      "AWS_ENDPOINT_URL_AUTOSCALING", "AWS_ENDPOINT_URL_DYNAMODB",
                      "AWS_ENDPOINT_URL_SIMPLEDB")
TIMEOUT = 60
ANSI_ESCAPE = "\x1b["


# -- the in-process stack (the session's) --------------------------------------------------
def test_s3_through_the_endpoint_variable(aws_env):
    s3 = boto3.client("s3")
    bucket = f"stack-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"


def test_sqs_through_the_endpoint_variable(aws_env):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"stack-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "job"


def test_simpledb_through_the_endpoint_variable(aws_env, local_aws):
    sdb = boto3.client("sdb")
    assert sdb.meta.endpoint_url == local_aws.simpledb.endpoint_url
    domain = f"stack-{uuid.uuid4().hex[:8]}"
    sdb.create_domain(DomainName=domain)
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=[{"Name": "k", "Value": "v"}])
    assert sdb.select(SelectExpression=f"select * from `{domain}`",
                      ConsistentRead=True)["Items"][0]["Name"] == "i"


def test_session_stack_checks_simpledb_signatures(local_aws):
    response = raw_request(local_aws.simpledb.endpoint_url, {"Action": "ListDomains"},
                           access_key="local", secret_key="not-local")
    assert (response.status, response.error_code) == (403, "AuthFailure")


def test_default_ports_fall_back_to_free_ones_when_taken(monkeypatch):
    """In-process, with the documented ports replaced by two this test holds."""
    from localaws import stack

    with socket.socket() as moto_holder, socket.socket() as simpledb_holder:
        for holder in (moto_holder, simpledb_holder):
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        monkeypatch.setattr(stack, "MOTO_PORT", moto_holder.getsockname()[1])
        monkeypatch.setattr(stack, "SIMPLEDB_PORT", simpledb_holder.getsockname()[1])
        with stack.LocalAWS() as aws:
            ports = {url.rsplit(":", 1)[1] for url in aws.endpoints.values()}
            assert ports.isdisjoint({str(stack.MOTO_PORT), str(stack.SIMPLEDB_PORT)})
            assert sdb(aws.simpledb.endpoint_url).list_domains().get("DomainNames", []) == []


# -- `python -m localaws` processes --------------------------------------------------------
class StackProcess:
    """A `python -m localaws` process whose output is read line by line as it comes."""

    def __init__(self, *flags):
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "localaws", *flags], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def line(self, predicate, timeout=TIMEOUT):
        """The next output line for which `predicate` is true (None once the output ends)."""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                return None
            self.output.append(line)
            if predicate(line):
                return line

    def ready(self):
        """Wait for the endpoints; returns {variable: URL}."""
        endpoints = {}
        while len(endpoints) < len(ENDPOINT_VARIABLES):
            line = self.line(lambda text: "=" in text)
            assert line is not None, self.finish()
            name, url = line.strip().split("=", 1)
            endpoints[name] = url
        return endpoints

    def stop(self, signum=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=TIMEOUT)

    def finish(self):
        """Exit status, remaining stdout and stderr of a process that ends by itself."""
        stdout, stderr = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode, "".join(self.output) + (stdout or ""), stderr

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def start_stack():
    started = []

    def start(*flags):
        stack = StackProcess(*flags)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.kill()


def any_ports():
    return ("--moto-port", "0", "--simpledb-port", "0")


def sdb(endpoint_url, access_key="local", secret_key="local"):
    return boto3.client("sdb", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def error_code(call):
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_command_prints_every_endpoint(start_stack):
    endpoints = start_stack(*any_ports()).ready()
    assert set(endpoints) == set(ENDPOINT_VARIABLES)
    client = sdb(endpoints["AWS_ENDPOINT_URL_SIMPLEDB"])
    assert client.list_domains()["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_command_exits_cleanly_on_signal(start_stack, signum):
    stack = start_stack(*any_ports())
    stack.ready()
    assert stack.stop(signum) == 0
    assert stack.line(lambda text: "Local AWS stack stopped." in text)


# Signatures
def test_simpledb_refuses_unsigned_calls(start_stack):
    url = start_stack(*any_ports()).ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    response = raw_request(url, {"Action": "ListDomains"}, sign=False)
    assert (response.status, response.error_code) == (403, "AuthMissingFailure")


def test_simpledb_refuses_keys_other_than_the_local_pair(start_stack):
    url = start_stack(*any_ports()).ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    assert error_code(sdb(url, secret_key="wrong").list_domains) == (403, "AuthFailure")
    assert error_code(sdb(url, access_key="AKIDOTHER").list_domains) == (403, "AuthFailure")


def test_simpledb_key_pair_is_configurable(start_stack):
    url = start_stack(*any_ports(), "--access-key", "AKIDMINE", "--secret-key", "s3cret").ready()[
        "AWS_ENDPOINT_URL_SIMPLEDB"]
    assert sdb(url, "AKIDMINE", "s3cret").list_domains()["ResponseMetadata"]["HTTPStatusCode"] \
        == 200
    assert error_code(sdb(url).list_domains) == (403, "AuthFailure")


def test_any_credentials_is_an_explicit_choice(start_stack):
    url = start_stack(*any_ports(), "--any-credentials").ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    assert raw_request(url, {"Action": "ListDomains"}, sign=False).status == 200


def test_unsigned_call_gets_403_not_the_injected_503(start_stack):
    url = start_stack(*any_ports(), "--fail-rate", "1").ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    response = raw_request(url, {"Action": "ListDomains"}, sign=False)
    assert (response.status, response.error_code) == (403, "AuthMissingFailure")
    assert error_code(sdb(url).list_domains) == (503, "ServiceUnavailable")


# The control endpoint and the fault flags
def test_control_endpoint_is_off_by_default(start_stack):
    url = start_stack(*any_ports()).ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    with pytest.raises(RuntimeError, match="404"):
        change_faults(url, "local", "local", fail_rate=1)
    assert sdb(url).list_domains()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_control_endpoint_on_request_needs_the_key_pair(start_stack):
    url = start_stack(*any_ports(), "--control").ready()["AWS_ENDPOINT_URL_SIMPLEDB"]
    for keys in ((None, None), ("local", "wrong")):
        with pytest.raises(RuntimeError, match="403"):
            change_faults(url, *keys, fail_rate=1)
    assert change_faults(url, "local", "local", fail_rate=1)["fail_rate"] == 1.0
    assert error_code(sdb(url).list_domains) == (503, "ServiceUnavailable")


def test_stack_takes_the_emulators_fault_flags(start_stack):
    url = start_stack(*any_ports(), "--control", "--latency-ms", "5", "--fail-rate", "0.25",
                      "--stale-read-rate", "0.5", "--seed", "7").ready()[
        "AWS_ENDPOINT_URL_SIMPLEDB"]
    assert change_faults(url, "local", "local") == {
        "latency_ms": 5.0, "fail_rate": 0.25, "stale_read_rate": 0.5}


# Ports and start-up failures
@pytest.mark.parametrize("flag", ["--moto-port", "--simpledb-port"])
def test_explicit_port_in_use_is_one_line_and_exit_status_1(start_stack, flag):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        other = "--simpledb-port" if flag == "--moto-port" else "--moto-port"
        status, stdout, stderr = start_stack(flag, port, other, "0").finish()
    assert status == 1
    assert stderr.splitlines() == [
        f"localaws: cannot start: port {port} on 127.0.0.1 is already in use ({flag}); stop "
        f"what holds it, or choose another port (0: any free port)"
    ]
    assert "Traceback" not in stdout + stderr


def test_default_ports_in_use_are_replaced_by_free_ones(start_stack):
    holders = []
    for port in (MOTO_PORT, SIMPLEDB_PORT):
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port))
            holder.listen()
        except OSError:
            pass  # something else already holds it: just as good
        holders.append(holder)
    try:
        endpoints = start_stack().ready()
    finally:
        for holder in holders:
            holder.close()
    ports = {url.rsplit(":", 1)[1] for url in endpoints.values()}
    assert ports.isdisjoint({str(MOTO_PORT), str(SIMPLEDB_PORT)})
    assert sdb(endpoints["AWS_ENDPOINT_URL_SIMPLEDB"]).list_domains().get("DomainNames", []) == []


def test_unusable_data_dir_is_one_line_and_exit_status_1(start_stack, tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    status, stdout, stderr = start_stack(*any_ports(), "--data-dir", str(not_a_directory)).finish()
    assert status == 1
    assert len(stderr.splitlines()) == 1 and stderr.startswith("localaws: cannot start: ")
    assert "Traceback" not in stdout + stderr


# The env file
def sourced(path):
    """The variables a POSIX shell gets by sourcing `path`."""
    names = [*ENDPOINT_VARIABLES, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    script = f'. "{path}"; ' + "; ".join(f'echo "${name}"' for name in names)
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True,
                            env={"PATH": os.environ["PATH"]})
    return dict(zip(names, result.stdout.splitlines()))


def test_env_file_holds_endpoints_and_keys_once_ready_and_goes_on_exit(start_stack, tmp_path):
    env_file = tmp_path / "localaws.env"
    stack = start_stack(*any_ports(), "--env-file", str(env_file))
    endpoints = stack.ready()
    variables = sourced(env_file)
    assert variables == {**endpoints, "AWS_ACCESS_KEY_ID": "local",
                         "AWS_SECRET_ACCESS_KEY": "local"}
    client = sdb(variables["AWS_ENDPOINT_URL_SIMPLEDB"], variables["AWS_ACCESS_KEY_ID"],
                 variables["AWS_SECRET_ACCESS_KEY"])
    assert client.list_domains()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [path.name for path in tmp_path.iterdir()] == ["localaws.env"]  # no temporary left
    assert stack.stop() == 0
    assert not env_file.exists()


def test_env_file_quotes_values_for_the_shell(start_stack, tmp_path):
    env_file = tmp_path / "localaws.env"
    start_stack(*any_ports(), "--env-file", str(env_file), "--access-key", "AK ID",
                "--secret-key", "it's $HOME").ready()
    variables = sourced(env_file)
    assert (variables["AWS_ACCESS_KEY_ID"], variables["AWS_SECRET_ACCESS_KEY"]) == (
        "AK ID", "it's $HOME")


def test_env_file_not_written_when_the_stack_cannot_start(start_stack, tmp_path):
    env_file = tmp_path / "localaws.env"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        status, _stdout, _stderr = start_stack(
            "--moto-port", str(holder.getsockname()[1]), "--env-file", str(env_file)).finish()
    assert status == 1 and not env_file.exists()


def test_env_file_that_cannot_be_written_is_one_line_and_exit_status_1(start_stack, tmp_path):
    env_file = tmp_path / "missing-directory" / "localaws.env"
    status, stdout, stderr = start_stack(*any_ports(), "--env-file", str(env_file)).finish()
    assert status == 1
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith("localaws: cannot write the env file: ")
    assert "Traceback" not in stdout + stderr


# The request log
@pytest.mark.slow
def test_provisioning_probes_leave_the_log_quiet_and_plain(start_stack, tmp_path):
    env_file = tmp_path / "localaws.env"
    stack = start_stack(*any_ports(), "--env-file", str(env_file))
    stack.ready()
    environment = {**os.environ, **sourced(env_file), "DJANGO_SETTINGS_MODULE": "project.settings",
                   "DJANGO_ENV": "local", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "provision_aws", "--wait", "30"],
                            cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    # A refused signature is logged: it marks the end of what provisioning caused.
    raw_request(sourced(env_file)["AWS_ENDPOINT_URL_SIMPLEDB"], {"Action": "ListDomains"},
                sign=False)
    assert stack.line(lambda text: "status=403" in text)
    logged = "".join(stack.output)
    assert ANSI_ESCAPE not in logged
    assert "status=4" not in logged.replace("status=403", "")


def test_every_request_is_logged_plainly_when_asked(start_stack):
    stack = start_stack(*any_ports(), "--log-requests")
    endpoints = stack.ready()
    sqs = boto3.client("sqs", endpoint_url=endpoints["AWS_ENDPOINT_URL_SQS"],
                       region_name="us-east-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName="absent")
    with pytest.raises(ClientError):
        sdb(endpoints["AWS_ENDPOINT_URL_SIMPLEDB"]).domain_metadata(DomainName="absent")
    expected = {"localaws.requests.moto": "status=400",
                "localaws.requests.simpledb": "action=DomainMetadata domain=absent status=400"}
    seen = set()

    def logged(line):
        seen.update(name for name, text in expected.items() if name in line and text in line)
        return seen == set(expected)

    assert stack.line(logged), stack.output
    assert ANSI_ESCAPE not in "".join(stack.output)
