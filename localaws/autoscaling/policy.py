"""The scaling arithmetic of EC2 Auto Scaling, as the local fleet and the AWS deployment use it.

Everything here is pure arithmetic on numbers the caller measured (no clocks, no processes,
no AWS calls): the controller that starts and stops nodes feeds it, and the unit tests check
it against the figures in AWS's documentation (tests/localaws/test_autoscaling_policy.py).

Modelled, as AWS documents them:

* **Target tracking** ("Target tracking scaling policies for Amazon EC2 Auto Scaling",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html):
  the group is resized in proportion to how far the metric is from its target,
  ``desired = ceil(capacity × metric / target)``, always within the group's min and max.
  It adds capacity quickly and removes it gradually: a scale-out needs
  `TargetTracking.scale_out_datapoints` breaching datapoints in a row (AWS's high alarm:
  3 of 3 one-minute datapoints), a scale-in needs `scale_in_datapoints` (AWS's low alarm:
  15 of 15).
* **Instance warm-up** ("Set the default instance warmup for an Auto Scaling group",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html):
  a new instance contributes to the aggregated metric only once warmed up, yet counts as
  part of the current capacity when deciding a scale-out (so one spike launches one batch,
  not one per datapoint), and no scale-in happens while any instance is warming up.
* **Web metric** ``ALBRequestCountPerTarget``: requests received by the target group per
  minute divided by its targets (here: the warmed-up, in-service ones).
* **Worker metric**, "Scaling policy based on Amazon SQS"
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html):
  backlog per instance = ApproximateNumberOfMessagesVisible ÷ in-service instances, tracked
  against the acceptable backlog per instance = longest acceptable latency ÷ average
  processing time per message (the guide's example: 1,500 messages, 10 instances, 0.1 s per
  message and 10 s latency give 150 against 100, so 15 instances).
* **Health replacement** ("Health checks for instances in an Auto Scaling group",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html):
  an instance that failed its load-balancer health checks is replaced once its health check
  grace period is over; one that is no longer running (its process died) is replaced at once.
  Replacement keeps the desired capacity.

Simplified, and said so:

* The caller supplies one datapoint per evaluation (the controller's tick stands in for
  CloudWatch's one-minute period); the streaks count ticks, not minutes.
* AWS's low alarm fires a little below the target; here a scale-in datapoint is any one whose
  proportional capacity is below the current one.
* `scale_in_cooldown` is a quiet window after any scaling activity before a scale-in (EC2
  target tracking relies on warm-up alone; Application Auto Scaling has ScaleInCooldown):
  it keeps a local fleet from flapping while its processes settle. Scale-out never waits.
* A group at zero capacity with work to do scales as if it had one instance (AWS's metric math
  has no datapoint when dividing by zero in-service instances).
* The instance chosen for scale-in is the one launched first among those not protected from
  scale-in, preferring unhealthy ones: AWS's default termination policy also balances
  Availability Zones and launch templates, which one machine does not have.
"""

import math
from dataclasses import dataclass

#: AWS target tracking's high alarm: 3 datapoints out of 3 one-minute periods breach.
AWS_SCALE_OUT_DATAPOINTS = 3
#: AWS target tracking's low alarm: 15 datapoints out of 15 one-minute periods.
AWS_SCALE_IN_DATAPOINTS = 15
#: Seconds per minute: ALBRequestCountPerTarget is requests per target per minute.
MINUTE = 60.0


def acceptable_backlog_per_instance(longest_acceptable_latency, average_processing_time):
    """The target for the worker group: messages one instance may hold and still meet the
    latency, ``longest acceptable latency ÷ average processing time per message``."""
    if longest_acceptable_latency <= 0 or average_processing_time <= 0:
        raise ValueError("the latency and the processing time must be positive")
    return longest_acceptable_latency / average_processing_time


def backlog_per_instance(visible_messages, in_service_instances):
    """The worker group's metric: ApproximateNumberOfMessagesVisible ÷ in-service instances.

    With no instance in service the whole backlog counts as one instance's, so that a group
    scaled to zero still scales out (a simplification: AWS's metric math has no datapoint).
    """
    if visible_messages < 0 or in_service_instances < 0:
        raise ValueError("counts cannot be negative")
    return visible_messages / max(in_service_instances, 1)


def request_count_per_target(requests_by_target, warmed_targets, period_seconds):
    """The web group's metric, ALBRequestCountPerTarget: requests per target per minute.

    `requests_by_target` maps each target to the requests it received during the period;
    only `warmed_targets` (in service and warmed up) are aggregated. None when none is.
    """
    if period_seconds <= 0:
        raise ValueError("the period must be positive")
    counted = [requests_by_target.get(target, 0) for target in warmed_targets]
    if not counted:
        return None
    return sum(counted) / len(counted) * (MINUTE / period_seconds)


def requests_since(previous_totals, current_totals):
    """Requests per target between two readings of cumulative counters (HAProxy's `stot`).

    A target absent from the previous reading has no baseline yet and counts 0; a counter
    that went down was reset (the slot was reused) and counts from zero.
    """
    counts = {}
    for target, total in current_totals.items():
        before = previous_totals.get(target)
        if before is None:
            counts[target] = 0
        elif total < before:
            counts[target] = total
        else:
            counts[target] = total - before
    return counts


def proportional_capacity(capacity, metric, target):
    """``ceil(capacity × metric ÷ target)``: the capacity that brings the metric to target."""
    if target <= 0:
        raise ValueError("the target value must be positive")
    # Rounded first so that float noise (15.000000000000002) does not add an instance.
    return math.ceil(round(max(capacity, 1) * metric / target, 9))


@dataclass(frozen=True)
class Instance:
    """What the policy needs to know of one instance (a node or worker process).

    Times are seconds on the caller's monotonic clock.
    """

    id: str
    #: When it entered service (for a web node: registered with the balancer); warm-up and
    #: the health check grace period count from here.
    launched_at: float
    #: False once the process has exited (EC2: the instance is no longer running).
    running: bool = True
    #: The balancer's (or the worker's own) health check verdict.
    healthy: bool = True
    protected_from_scale_in: bool = False

    def warmed_up(self, now, warmup):
        """Whether it has been in service for `warmup` seconds and so counts in metrics."""
        return self.running and now - self.launched_at >= warmup


def warmed(instances, now, warmup):
    """The instances whose figures go into the aggregated metric."""
    return [instance for instance in instances if instance.warmed_up(now, warmup)]


def instances_to_replace(instances, now, health_check_grace_period):
    """Instances to terminate and replace: the dead at once, the unhealthy after grace."""
    return [
        instance for instance in instances
        if not instance.running
        or (not instance.healthy and now - instance.launched_at >= health_check_grace_period)
    ]


def choose_for_scale_in(instances, count):
    """The `count` instances a scale-in terminates: unprotected ones, unhealthy first, then
    the longest running."""
    candidates = [instance for instance in instances if not instance.protected_from_scale_in]
    candidates.sort(key=lambda instance: (instance.healthy, instance.launched_at))
    return candidates[:max(count, 0)]


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation: the capacity to have, and why (for the log)."""

    desired: int
    reason: str


class TargetTracking:
    """One target tracking policy on one group, fed one datapoint per evaluation.

    Holds only the streaks of breaching datapoints and the time of the last scaling activity;
    the group's instances are the caller's.
    """

    def __init__(self, *, target_value, min_size, max_size, warmup=0.0, scale_in_cooldown=0.0,
                 scale_out_datapoints=AWS_SCALE_OUT_DATAPOINTS,
                 scale_in_datapoints=AWS_SCALE_IN_DATAPOINTS):
        if target_value <= 0:
            raise ValueError("target_value must be positive")
        if not 0 <= min_size <= max_size:
            raise ValueError("need 0 <= min_size <= max_size")
        if warmup < 0 or scale_in_cooldown < 0:
            raise ValueError("warmup and scale_in_cooldown cannot be negative")
        if scale_out_datapoints < 1 or scale_in_datapoints < 1:
            raise ValueError("at least one datapoint is needed to scale")
        self.target_value = target_value
        self.min_size = min_size
        self.max_size = max_size
        self.warmup = warmup
        self.scale_in_cooldown = scale_in_cooldown
        self.scale_out_datapoints = scale_out_datapoints
        self.scale_in_datapoints = scale_in_datapoints
        self._above = 0
        self._below = 0
        self._last_activity = None

    def clamp(self, capacity):
        """`capacity` within the group's bounds."""
        return min(max(capacity, self.min_size), self.max_size)

    def evaluate(self, now, *, capacity, warming, metric):
        """The desired capacity after one datapoint.

        `capacity`: instances launched and not terminating (warming ones included);
        `warming`: how many of them are still warming up; `metric`: the aggregate over the
        warmed-up ones, or None when there is no datapoint.
        """
        if not self.min_size <= capacity <= self.max_size:
            return self._scaled(now, self.clamp(capacity), "outside the group's bounds")
        if metric is None:
            return Decision(capacity, "no datapoint")
        if metric > 0 and capacity == 0:
            wanted = proportional_capacity(1, metric, self.target_value)
        else:
            wanted = proportional_capacity(capacity, metric, self.target_value)
        wanted = self.clamp(wanted)
        if wanted > capacity:
            self._above, self._below = self._above + 1, 0
            if self._above < self.scale_out_datapoints:
                return Decision(capacity, f"above target ({self._above} datapoints)")
            return self._scaled(now, wanted, f"metric {metric:g} above target {self.target_value:g}")
        if wanted < capacity:
            self._above, self._below = 0, self._below + 1
            if warming:
                return Decision(capacity, "scale-in waits for warm-up")
            if self._in_cooldown(now):
                return Decision(capacity, "scale-in cooldown")
            if self._below < self.scale_in_datapoints:
                return Decision(capacity, f"below target ({self._below} datapoints)")
            return self._scaled(now, wanted, f"metric {metric:g} below target {self.target_value:g}")
        self._above = self._below = 0
        return Decision(capacity, "at target")

    def _in_cooldown(self, now):
        return self._last_activity is not None and now - self._last_activity < self.scale_in_cooldown

    def _scaled(self, now, desired, reason):
        self._above = self._below = 0
        self._last_activity = now
        return Decision(desired, reason)
