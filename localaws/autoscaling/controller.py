"""The local Auto Scaling controller: keeps a web group and a worker group within bounds.

It plays the part AWS's services play for the deployment (docs/fleet.md): moto's Auto
Scaling holds the groups and their instances (`service.AutoScalingService`); each instance
id is given a process, started by command (`processes.start`); the balancer (HAProxy, as the
ALB) registers the web nodes; the scaling decisions are `policy.TargetTracking`'s, fed
ALBRequestCountPerTarget for the web group and SQS backlog per instance for the workers.

Everything runs on one loop (`Controller.step`, every `Timings.tick` seconds) that never
blocks on an instance: each instance is a small state machine advanced a step per tick.

Web node: launching (process started; its /readyz polled) -> in service (registered) ->
draining (readiness made 503 by its drain file, deregistered: no new requests, in-flight
ones finish, the deregistration delay at most) -> stopping (SIGTERM; SIGKILL after
`stop_timeout`) -> terminated (in Auto Scaling, with decrement).

Worker: in service once started -> terminating (TerminateInstanceInAutoScalingGroup puts it
in Terminating:Wait; its instance metadata says `Terminated`; the worker drains and completes
the lifecycle action itself) -> gone once Auto Scaling has terminated it and the process
exited. A worker that does not complete within the hook's timeout is abandoned and killed.

A dead process is replaced at once, and so is a node that never becomes ready within
`launch_timeout`; a web node failing its health checks, once its grace period is over, is
drained like a scale-in and then replaced.
"""

import http.client
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from localaws.balancer import BalancerError

from . import policy, processes

logger = logging.getLogger("localaws.fleet")

LAUNCHING, IN_SERVICE, DRAINING, STOPPING, TERMINATING = (
    "launching", "in-service", "draining", "stopping", "terminating")
#: The file whose presence makes a web node's /readyz answer 503 (STRATUS_DRAIN_FILE).
DRAIN_FILE = "draining"


@dataclass(frozen=True)
class Timings:
    """The controller's clock: local, so much shorter than AWS's, and said so in docs/fleet.md."""

    tick: float = 0.5
    #: Seconds per datapoint (CloudWatch's one-minute period, shortened).
    period: float = 3.0
    warmup: float = 10.0
    scale_in_cooldown: float = 20.0
    scale_out_datapoints: int = policy.AWS_SCALE_OUT_DATAPOINTS
    scale_in_datapoints: int = 10
    #: Longest wait for a deregistered node's in-flight requests (the target group's delay).
    deregistration_delay: float = 30.0
    health_check_grace: float = 30.0
    launch_timeout: float = 120.0
    #: SIGTERM to SIGKILL, for a process that does not stop by itself.
    stop_timeout: float = 45.0


@dataclass(frozen=True)
class Event:
    """One thing that happened to an instance, for the log and for whoever measures the run."""

    at: float  # time.monotonic()
    group: str
    instance_id: str
    what: str
    detail: str = ""


@dataclass
class Member:
    """One instance and the process playing it."""

    instance_id: str
    process: object
    run_dir: str
    started_at: float
    reason: str
    port: int | None = None
    state: str = LAUNCHING
    state_since: float = 0.0
    in_service_at: float | None = None
    slot: str | None = None
    #: The balancer's error count for this node when its draining began.
    errors_before_drain: int = 0
    #: The metadata stand-in's record for a worker instance.
    metadata: object = None
    #: Retired to be replaced (it failed its health checks), not by a scale-in.
    replacing: bool = False

    def alive(self):
        return self.process.poll() is None

    def as_policy_instance(self, healthy=True):
        return policy.Instance(self.instance_id, launched_at=self.in_service_at or self.started_at,
                               running=self.alive(), healthy=healthy)


@dataclass
class GroupConfig:
    """A group: its Auto Scaling spec, the command an instance runs, and its scaling target.

    In `command` and the values of `environment`, `{port}`, `{run_dir}` and `{instance_id}`
    are replaced per instance.
    """

    spec: object  # service.GroupSpec
    command: list
    target_value: float
    environment: dict = field(default_factory=dict)


class Group:
    """What both groups share: instances from Auto Scaling, processes, replacement, scaling."""

    kind = ""

    def __init__(self, controller, config):
        self.controller = controller
        self.config = config
        self.name = config.spec.name
        timings = controller.timings
        self.policy = policy.TargetTracking(
            target_value=config.target_value, min_size=config.spec.min_size,
            max_size=config.spec.max_size, warmup=timings.warmup,
            scale_in_cooldown=timings.scale_in_cooldown,
            scale_out_datapoints=timings.scale_out_datapoints,
            scale_in_datapoints=timings.scale_in_datapoints)
        self.members = {}
        #: Why the next instances Auto Scaling launches are launched, oldest first.
        self._launch_reasons = deque()
        self._requested = None

    # -- the loop's steps -------------------------------------------------------------

    def reconcile(self, now, instances):
        """Give a process to every new instance; advance every member's state."""
        new = [instance_id for instance_id, state in instances.items()
               if instance_id not in self.members and state in ("Pending", "InService")]
        # Auto Scaling launches within the call that asked it to, so a launch asked for
        # before this reading and not in it never came (a desired capacity held at the max).
        while len(self._launch_reasons) > len(new):
            self._launch_reasons.pop()
        for instance_id in new:
            reason = self._launch_reasons.popleft() if self._launch_reasons else "launch"
            self._launch(now, instance_id, reason)
        for member in list(self.members.values()):
            self.advance(now, member, instances.get(member.instance_id))

    def scale(self, now):
        """One datapoint: evaluate the policy and act on its decision."""
        active = self._active()
        warming = [m for m in active
                   if m.state == LAUNCHING
                   or not m.as_policy_instance().warmed_up(now, self.policy.warmup)]
        # Instances Auto Scaling launched that have no process yet count as warming ones.
        pending = self._pending()
        decision = self.policy.evaluate(now, capacity=len(active) + pending,
                                        warming=len(warming) + pending,
                                        metric=self.metric(now))
        self._resize(now, active, decision.desired, decision.reason)

    def request_capacity(self, capacity):
        """SetDesiredCapacity, as an operator would: applied on the loop's next tick."""
        self._requested = self.policy.clamp(capacity)

    def apply_request(self, now):
        requested, self._requested = self._requested, None
        if requested is not None:
            self._resize(now, self._active(), requested, "desired capacity set")

    def _active(self):
        return [m for m in self.members.values() if m.state in (LAUNCHING, IN_SERVICE)]

    def _pending(self):
        """Launches under way: asked of Auto Scaling, or to follow a replaced node's drain."""
        return len(self._launch_reasons) + sum(m.replacing for m in self.members.values())

    def _resize(self, now, active, desired, reason):
        capacity = len(active) + self._pending()
        if desired > capacity:
            added = desired - capacity
            try:
                current = self.controller.service.desired_capacity(self.name)
                self.controller.service.set_desired_capacity(
                    self.name, min(current + added, self.config.spec.max_size))
            except Exception as error:  # noqa: BLE001 - logged; the next datapoint retries
                logger.warning("group=%s scale-out failed: %s", self.name, error)
                return
            self._launch_reasons.extend(["scale-out"] * added)
            self.controller.record(self.name, "-", "scale-out", f"{capacity} -> {desired}: {reason}")
        elif desired < capacity:
            in_service = [m for m in active if m.state == IN_SERVICE]
            chosen = policy.choose_for_scale_in(
                [m.as_policy_instance() for m in in_service], capacity - desired)
            if chosen:
                self.controller.record(self.name, "-", "scale-in",
                                       f"{capacity} -> {desired}: {reason}")
            for instance in chosen:
                self.retire(now, self.members[instance.id])

    # -- launching and replacing ------------------------------------------------------

    def _launch(self, now, instance_id, reason):
        run_dir = os.path.join(self.controller.run_dir, instance_id)
        os.makedirs(run_dir, exist_ok=True)
        port = self.controller.free_port() if self.kind == "web" else None
        values = {"port": port, "run_dir": run_dir, "instance_id": instance_id}
        member = Member(instance_id, None, run_dir, started_at=now, reason=reason, port=port,
                        state_since=now)
        environment = {**self.controller.environment,
                       **{name: str(value).format(**values)
                          for name, value in self.config.environment.items()},
                       **self.instance_environment(member)}
        member.process = processes.start(
            [part.format(**values) for part in self.config.command],
            cwd=self.controller.cwd, env=environment,
            log_path=os.path.join(self.controller.run_dir, f"{instance_id}.log"))
        self.members[instance_id] = member
        self.controller.record(self.name, instance_id, "launched",
                               f"{reason} pid={member.process.pid}"
                               + (f" port={port}" if port else ""))
        self.launched(now, member)

    def replace(self, now, member, why):
        """Terminate `member` at once and have Auto Scaling launch another in its place."""
        self._forget(member)
        if member.alive():
            processes.kill_tree(member.process)
        try:
            self.controller.service.terminate(member.instance_id, replace=True)
            self.after_replace(member)
        except Exception as error:  # noqa: BLE001 - logged; the group is reconciled next tick
            logger.warning("group=%s instance=%s termination failed: %s", self.name,
                           member.instance_id, error)
        self._launch_reasons.append("replacement")
        del self.members[member.instance_id]
        self.controller.record(self.name, member.instance_id, "replaced", why)

    def set_state(self, now, member, state):
        member.state, member.state_since = state, now

    # -- per kind ---------------------------------------------------------------------

    def refresh(self):
        """Read, once per tick, what `advance` needs beyond Auto Scaling's instances."""

    def instance_environment(self, member):
        return {}

    def launched(self, now, member):
        pass

    def after_replace(self, member):
        pass

    def _forget(self, member):
        pass

    def metric(self, now):
        raise NotImplementedError

    def advance(self, now, member, instance_state):
        raise NotImplementedError

    def retire(self, now, member):
        raise NotImplementedError

    def stop_all(self):
        """Signal every process to stop (SIGTERM: nodes finish their requests, workers drain)."""
        for member in self.members.values():
            processes.signal_process(member.process, signal.SIGTERM)


class WebGroup(Group):
    """Web nodes behind the balancer, scaled on requests per target."""

    kind = "web"

    def __init__(self, controller, config, balancer):
        super().__init__(controller, config)
        self.balancer = balancer
        self._totals = {}
        self._totals_at = None
        #: Requests that failed on nodes while they were being scaled in.
        self.failed_while_scaling_in = 0
        self._stats = {}

    def refresh(self):
        """Read the balancer's view of every slot."""
        self._stats = {server.name: server for server in self.balancer.runtime.stats()}

    def metric(self, now):
        totals = {f"127.0.0.1:{m.port}": self._stats[m.slot].total_sessions
                  for m in self.members.values() if m.state == IN_SERVICE and m.slot in self._stats}
        counts = policy.requests_since(self._totals, totals)
        elapsed = now - self._totals_at if self._totals_at is not None else None
        self._totals, self._totals_at = totals, now
        if not elapsed:
            return None
        # The ALB divides its request count by the healthy targets, new ones included, so
        # every node in service counts; warm-up only holds scale-in back (policy.evaluate).
        return policy.request_count_per_target(counts, list(totals), elapsed)

    def advance(self, now, member, instance_state):
        timings = self.controller.timings
        if member.state in (LAUNCHING, IN_SERVICE) and not member.alive():
            return self.replace(now, member, f"died (exit status {member.process.returncode})")
        if member.state == LAUNCHING:
            if _answers_200(member.port, "/readyz"):
                member.slot = self.balancer.runtime.add_server("127.0.0.1", member.port)
                member.in_service_at = now
                self.set_state(now, member, IN_SERVICE)
                self.controller.record(self.name, member.instance_id, "serving",
                                       f"{member.reason} slot={member.slot} "
                                       f"after {now - member.started_at:.1f}s")
            elif now - member.started_at > timings.launch_timeout:
                self.replace(now, member, f"not ready within {timings.launch_timeout:g}s")
        elif member.state == IN_SERVICE:
            server = self._stats.get(member.slot)
            healthy = server is None or server.healthy
            if policy.instances_to_replace([member.as_policy_instance(healthy)], now,
                                           timings.health_check_grace):
                # As Auto Scaling does with a target: deregister (its in-flight requests
                # finish), terminate, then launch its replacement.
                self.controller.service.set_unhealthy(member.instance_id)
                member.replacing = True
                self.retire(now, member)
                self.controller.record(self.name, member.instance_id, "unhealthy",
                                       f"failed its health checks ({server.status})")
        elif member.state == DRAINING:
            server = self._stats.get(member.slot)
            idle = server is not None and server.current_sessions == 0
            waited = now - member.state_since
            # A request dispatched just before the drain shows in the counters a moment later.
            if (idle and waited >= 2 * timings.tick) or waited >= timings.deregistration_delay:
                failed = (server.errors - member.errors_before_drain) if server else 0
                if not member.replacing:
                    self.failed_while_scaling_in += max(failed, 0)
                self.balancer.runtime.remove(member.slot)
                member.slot = None
                processes.signal_process(member.process, signal.SIGTERM)
                self.set_state(now, member, STOPPING)
                self.controller.record(self.name, member.instance_id, "deregistered",
                                       f"after {waited:.1f}s, failed={max(failed, 0)}")
        elif member.state == STOPPING:
            if member.alive() and now - member.state_since > timings.stop_timeout:
                processes.kill_tree(member.process)
            if not member.alive():
                self.controller.service.terminate(member.instance_id, replace=member.replacing)
                if member.replacing:
                    self._launch_reasons.append("replacement")
                del self.members[member.instance_id]
                self.controller.record(self.name, member.instance_id,
                                       "replaced" if member.replacing else "terminated",
                                       f"exit status {member.process.returncode}")

    def retire(self, now, member):
        """Scale-in: readiness 503, out of the balancer, in-flight requests finish, SIGTERM."""
        with open(os.path.join(member.run_dir, DRAIN_FILE), "w"):
            pass
        server = self._stats.get(member.slot)
        member.errors_before_drain = server.errors if server else 0
        self.balancer.runtime.drain(member.slot)
        self.set_state(now, member, DRAINING)
        self.controller.record(self.name, member.instance_id, "draining", f"slot={member.slot}")

    def _forget(self, member):
        if member.slot:
            try:
                self.balancer.runtime.remove(member.slot)
            except BalancerError as error:
                logger.warning("group=%s could not deregister %s: %s", self.name, member.slot, error)
            member.slot = None

    def instance_environment(self, member):
        return {"STRATUS_DRAIN_FILE": os.path.join(member.run_dir, DRAIN_FILE)}


class WorkerGroup(Group):
    """`sqs_worker` processes, scaled on SQS backlog per instance, with a terminate hook."""

    kind = "worker"

    def __init__(self, controller, config, metadata, sqs, queue_names):
        super().__init__(controller, config)
        self.metadata = metadata
        self.sqs = sqs
        self.queue_names = queue_names
        self._queue_urls = {}

    def visible_messages(self):
        """Visible messages over the worker's queues (absent ones: 0): the SQS attribute
        ApproximateNumberOfMessages, CloudWatch's ApproximateNumberOfMessagesVisible."""
        return sum(self.queue_attribute(name, "ApproximateNumberOfMessages")
                   for name in self.queue_names)

    def queue_attribute(self, name, attribute):
        """One numeric attribute of queue `name`; 0 while the queue does not exist."""
        try:
            if name not in self._queue_urls:
                self._queue_urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            found = self.sqs.get_queue_attributes(QueueUrl=self._queue_urls[name],
                                                  AttributeNames=[attribute])
        except self.sqs.exceptions.QueueDoesNotExist:
            return 0
        return int(found["Attributes"][attribute])

    def metric(self, now):
        in_service = [m for m in self.members.values() if m.state == IN_SERVICE]
        return policy.backlog_per_instance(self.visible_messages(), len(in_service))

    def instance_environment(self, member):
        member.metadata = self.metadata.add_instance(member.instance_id)
        return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": member.metadata.base_url,
                "STRATUS_WORKER_LIFECYCLE_HOOK": self.config.spec.terminate_hook,
                "STRATUS_WORKER_AUTOSCALING_GROUP": self.name}

    def launched(self, now, member):
        # A worker serves from its first receive; warm-up counts from its start.
        member.in_service_at = now
        self.set_state(now, member, IN_SERVICE)

    def advance(self, now, member, instance_state):
        timings = self.controller.timings
        if member.state == IN_SERVICE and not member.alive():
            return self.replace(now, member, f"died (exit status {member.process.returncode})")
        if member.state != TERMINATING:
            return
        waited = now - member.state_since
        if instance_state is None and not member.alive():
            del self.members[member.instance_id]
            self.controller.record(self.name, member.instance_id, "terminated",
                                   f"lifecycle action completed by the worker after {waited:.1f}s")
        elif waited > self.config.spec.hook_timeout:
            if instance_state is not None:
                self._abandon(member)
            processes.kill_tree(member.process)
            self.controller.record(self.name, member.instance_id, "hook-timeout",
                                   f"abandoned after {waited:.1f}s")

    def retire(self, now, member):
        """Scale-in through the lifecycle hook: the worker drains and completes it itself."""
        self.controller.service.terminate(member.instance_id, replace=False)
        member.metadata.target_lifecycle_state = "Terminated"
        self.set_state(now, member, TERMINATING)
        self.controller.record(self.name, member.instance_id, "terminating",
                               "lifecycle hook: Terminating:Wait")

    def after_replace(self, member):
        # The process is gone: nothing will complete its hook, so end the wait now rather
        # than at the hook's timeout (AWS would wait; locally the replacement matters more).
        self._abandon(member)

    def _abandon(self, member):
        try:
            self.controller.service.abandon(self.name, self.config.spec.terminate_hook,
                                            member.instance_id)
        except Exception as error:  # noqa: BLE001 - already completed, or already gone
            logger.info("group=%s instance=%s abandon: %s", self.name, member.instance_id, error)


class Controller:
    """The loop that drives both groups (see the module docstring)."""

    def __init__(self, *, service, timings, run_dir, cwd, environment, free_port):
        self.service = service
        self.timings = timings
        self.run_dir = run_dir
        self.cwd = cwd
        self.environment = environment
        self.free_port = free_port
        self.groups = []
        self.events = []
        self._events_lock = threading.Lock()
        self._next_datapoint = None

    def add(self, group):
        self.service.create_group(group.config.spec)
        self.groups.append(group)
        return group

    def record(self, group, instance_id, what, detail=""):
        event = Event(time.monotonic(), group, instance_id, what, detail)
        with self._events_lock:
            self.events.append(event)
        logger.info("group=%s instance=%s %s %s", group, instance_id, what, detail)

    def events_since(self, start):
        with self._events_lock:
            return [event for event in self.events if event.at >= start]

    def step(self, now):
        """One tick: reconcile every group with Auto Scaling; a datapoint when one is due."""
        for group in self.groups:
            group.refresh()
            group.reconcile(now, self.service.instances(group.name))
            group.apply_request(now)
        if self._next_datapoint is None:
            self._next_datapoint = now + self.timings.period
            for group in self.groups:
                group.metric(now)  # the first reading of cumulative counters
        elif now >= self._next_datapoint:
            self._next_datapoint = now + self.timings.period
            for group in self.groups:
                group.scale(now)

    def run(self, stopping):
        """Step until `stopping` (a threading.Event) is set; an error in one step is logged."""
        while not stopping.is_set():
            try:
                self.step(time.monotonic())
            except Exception:  # noqa: BLE001 - a stand-in for a service: keep serving
                logger.exception("controller step failed; trying again next tick")
            stopping.wait(self.timings.tick)

    def stop(self, timeout):
        """Stop every instance: SIGTERM all, wait up to `timeout`, then kill what remains."""
        members = [m for group in self.groups for m in group.members.values()]
        for group in self.groups:
            group.stop_all()
        deadline = time.monotonic() + timeout
        for member in members:
            try:
                member.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                processes.kill_tree(member.process)

    def ready(self):
        """Whether every group has reached its minimum of in-service instances."""
        return all(sum(m.state == IN_SERVICE for m in group.members.values())
                   >= group.config.spec.min_size for group in self.groups)


def _answers_200(port, path, timeout=1.0):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1"})
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
