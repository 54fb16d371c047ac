"""The local fleet: the AWS stack, HAProxy as the ALB, and an auto-scaled web and worker group.

`python -m localaws.fleet` (what `make fleet` runs) serves until Ctrl-C. `Fleet` is the same
thing as an object, for the fleet test and the chaos benchmark. It imports nothing of the
site: the site is set up and its instances run by the commands in `FleetConfig`.
"""

import argparse
import logging
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from localaws import free_port
from localaws.autoscaling import policy
from localaws.autoscaling.controller import (IN_SERVICE, Controller, GroupConfig, Timings,
                                             WebGroup, WorkerGroup)
from localaws.autoscaling.processes import kill_tree, start
from localaws.autoscaling.service import AutoScalingService, GroupSpec, local_client
from localaws.balancer import Balancer, BalancerConfig, HealthCheck
from localaws.imds import MetadataServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB_GROUP = "stratus-web"
WORKER_GROUP = "stratus-workers"
WORKER_HOOK = "stratus-worker-drain"
#: The balancer checks each node every 2 s (an ALB: 30 s); /readyz asks every service.
FLEET_HEALTH_CHECK = HealthCheck(interval=2, timeout=5, healthy_threshold=2, unhealthy_threshold=2)
#: Seconds the fleet may take to bring both groups to their minimum.
START_TIMEOUT = 180.0


class FleetError(Exception):
    """The fleet could not start: a setup command failed, or the groups never became ready."""


@dataclass
class FleetConfig:
    """Everything `make fleet` (or a test, or the chaos run) can choose."""

    port: int = 8000
    run_dir: str = ""
    web_min: int = 2
    web_max: int = 4
    worker_min: int = 1
    worker_max: int = 3
    #: For the setup commands and every instance, on top of this process's environment and
    #: the stack's endpoints (DATABASE_URL, say).
    environment: dict = field(default_factory=dict)
    #: For web nodes only, with `{run_dir}`, `{port}` and `{instance_id}` filled in per node.
    web_environment: dict = field(default_factory=dict)
    setup_commands: tuple = (("python", "manage.py", "provision_aws"),
                             ("python", "manage.py", "migrate", "--noinput"))
    web_command: tuple = ("bin/start-node", "--port", "{port}", "--run-dir", "{run_dir}",
                          "--workers", "1")
    worker_command: tuple = ("python", "manage.py", "sqs_worker")
    #: ALBRequestCountPerTarget to track: requests per node per minute.
    web_target: float = 600.0
    #: Acceptable backlog per worker: 10 s of latency at 0.5 s per message.
    worker_target: float = policy.acceptable_backlog_per_instance(10.0, 0.5)
    #: The SQS queues the workers drain (the site's default queue and its high band).
    queue_names: tuple = ("stratus-default", "stratus-default-high")
    health: HealthCheck = FLEET_HEALTH_CHECK
    timings: Timings = field(default_factory=Timings)
    #: Seconds a worker may take to drain and complete its lifecycle action.
    worker_hook_timeout: int = 60
    #: Fraction of SimpleDB calls answered 503 (chaos: 0.05); the site's set-up retries.
    simpledb_fail_rate: float = 0.0

    def __post_init__(self):
        self.run_dir = os.path.abspath(self.run_dir or os.path.join(ROOT, "var", f"fleet-{self.port}"))


class Fleet:
    """The whole fleet, started by `start()` (or `with`), stopped by `stop()`."""

    def __init__(self, config):
        self.config = config
        self.stack = self.metadata = self.balancer = self.controller = None
        #: The stack's endpoints and credentials, as its env file gives them.
        self.aws_environment = {}
        self.web = self.workers = None
        self._stopping = threading.Event()
        self._thread = None

    @property
    def url(self):
        return self.balancer.url

    def start(self, timeout=START_TIMEOUT):
        """Start everything and return once both groups have their minimum in service."""
        config = self.config
        os.makedirs(config.run_dir, mode=0o700, exist_ok=True)
        try:
            # A process of its own: moto's state lives in module globals, so two fleets in
            # one process (the chaos run's two, a test beside the suite's stack) would share
            # buckets, queues and groups.
            self._start_stack()
            self.metadata = MetadataServer().start()
            self.balancer = Balancer(BalancerConfig(
                run_dir=os.path.join(config.run_dir, "lb"), port=config.port,
                slots=config.web_max + 4, health=config.health))
            self.environment = self._environment()
            for command in config.setup_commands:
                self._setup(command)
            self.balancer.start()
            self.controller = self._controller()
            self._thread = threading.Thread(target=self.controller.run, args=(self._stopping,),
                                            name="autoscaling", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self.controller.ready():
                if time.monotonic() > deadline:
                    raise FleetError(f"the groups did not reach their minimum within {timeout:g}s; "
                                     f"see the instance logs in {config.run_dir}")
                time.sleep(0.2)  # the controller's loop moves on its own tick
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def moto_url(self):
        """moto's endpoint (S3, SQS, EC2, Auto Scaling) in the fleet's stack."""
        return self.aws_environment["AWS_ENDPOINT_URL_AUTOSCALING"]

    def _start_stack(self, timeout=60.0):
        env_file = os.path.join(self.config.run_dir, "localaws.env")
        if os.path.exists(env_file):
            os.unlink(env_file)
        self.stack = start(
            [sys.executable, "-m", "localaws", "--moto-port", "0", "--simpledb-port", "0",
             "--env-file", env_file, "--fail-rate", str(self.config.simpledb_fail_rate)],
            cwd=ROOT, env=os.environ.copy(), log_path=os.path.join(self.config.run_dir, "localaws.log"))
        deadline = time.monotonic() + timeout
        while not os.path.exists(env_file):
            if self.stack.poll() is not None or time.monotonic() > deadline:
                raise FleetError(f"the local AWS stack did not start; see {self.config.run_dir}/localaws.log")
            time.sleep(0.1)  # the stack writes the file once it serves
        with open(env_file, encoding="utf-8") as lines:
            for line in lines:
                name, _, value = line.strip().partition("=")
                self.aws_environment[name] = shlex.split(value)[0] if value else ""

    def _environment(self):
        python_bin = os.path.dirname(sys.executable)
        return {
            **os.environ, **self.aws_environment, "AWS_REGION": "us-east-1",
            "PATH": f"{python_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "STRATUS_SITE_URL": self.balancer.url,
            # The balancer is the one proxy in front of each node's own nginx (docs/nodes.md).
            "STRATUS_TRUSTED_PROXY_COUNT": "1",
            # Workers poll briefly and read their lifecycle state every second, so a drain
            # starts and ends within a controller's patience.
            "STRATUS_TASK_WAIT_SECONDS": "2",
            "STRATUS_WORKER_LIFECYCLE_POLL": "1",
            "STRATUS_TASK_SHUTDOWN_GRACE": str(max(self.config.worker_hook_timeout - 15, 5)),
            **self.config.environment,
        }

    def _setup(self, command):
        result = subprocess.run(list(command), cwd=ROOT, env=self.environment,
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise FleetError(f"{' '.join(command)} failed:\n{(result.stderr or result.stdout)[-2000:]}")

    def _controller(self):
        config = self.config
        controller = Controller(
            service=AutoScalingService(self.moto_url), timings=config.timings,
            run_dir=config.run_dir, cwd=ROOT, environment=self.environment, free_port=free_port)
        self.web = controller.add(WebGroup(controller, GroupConfig(
            GroupSpec(WEB_GROUP, config.web_min, config.web_max), list(config.web_command),
            config.web_target, config.web_environment), self.balancer))
        sqs = local_client("sqs", self.moto_url)
        self.workers = controller.add(WorkerGroup(controller, GroupConfig(
            GroupSpec(WORKER_GROUP, config.worker_min, config.worker_max, WORKER_HOOK,
                      config.worker_hook_timeout),
            list(config.worker_command), config.worker_target), self.metadata, sqs,
            config.queue_names))
        return controller

    def in_service(self, group):
        """The group's members in service now (a copy: the controller changes them)."""
        return [m for m in list(group.members.values()) if m.state == IN_SERVICE]

    def kill(self, group, rng=random):
        """SIGKILL one in-service member's whole process tree, as a machine dying; its id."""
        members = self.in_service(group)
        if not members:
            return None
        member = rng.choice(members)
        kill_tree(member.process)
        return member.instance_id

    def stop(self):
        """Stop the instances (nodes finish their requests, workers drain), then the rest."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.controller is not None:
            self.controller.stop(timeout=self.config.timings.stop_timeout)
        for part in (self.balancer, self.metadata):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - stop the rest whatever one did
                    logging.getLogger("localaws.fleet").exception("stopping %r", part)
        if self.stack is not None and self.stack.poll() is None:
            self.stack.terminate()
            try:
                self.stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_tree(self.stack)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m localaws.fleet",
        description="The local fleet: AWS stack, HAProxy as the ALB, auto-scaled web nodes "
                    "and workers. The database is the environment's DATABASE_URL.")
    parser.add_argument("--port", type=int, default=8000, help="the balancer's port")
    parser.add_argument("--run-dir", default="", help="default: var/fleet-PORT")
    for group, low, high in (("web", 2, 4), ("worker", 1, 3)):
        parser.add_argument(f"--{group}-min", type=int, default=low)
        parser.add_argument(f"--{group}-max", type=int, default=high)
    parser.add_argument("--web-target", type=float, default=FleetConfig.web_target,
                        help="requests per node per minute to track (default %(default)g)")
    parser.add_argument("--worker-target", type=float, default=FleetConfig.worker_target,
                        help="visible messages per worker to track (default %(default)g)")
    parser.add_argument("--simpledb-fail-rate", type=float, default=0.0,
                        help="fraction of SimpleDB calls answered 503 (chaos)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")
    for name in ("localaws.requests", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config = FleetConfig(port=args.port, run_dir=args.run_dir, web_min=args.web_min,
                             web_max=args.web_max, worker_min=args.worker_min,
                             worker_max=args.worker_max, web_target=args.web_target,
                             worker_target=args.worker_target,
                             simpledb_fail_rate=args.simpledb_fail_rate)
        policy.TargetTracking(target_value=1, min_size=config.web_min, max_size=config.web_max)
        policy.TargetTracking(target_value=1, min_size=config.worker_min,
                              max_size=config.worker_max)
    except ValueError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    fleet = Fleet(config)
    try:
        fleet.start()
    except Exception as error:  # noqa: BLE001 - one clear line, not a traceback
        print(f"fleet: cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"\nThe fleet serves at {fleet.url}  (instance logs: {config.run_dir}; Ctrl-C stops)\n",
          flush=True)
    try:
        stopping.wait()
    finally:
        print("Stopping the fleet: nodes finish their requests, workers drain ...", flush=True)
        fleet.stop()
        print("Fleet stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
