"""The local Auto Scaling arithmetic against the figures and behaviour AWS documents.

Sources (cited in localaws/autoscaling/policy.py too):
SQS: https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html
target tracking: https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html
warm-up: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html
health: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html
"""

import pytest

from localaws.autoscaling.policy import (
    AWS_SCALE_IN_DATAPOINTS,
    AWS_SCALE_OUT_DATAPOINTS,
    Instance,
    TargetTracking,
    acceptable_backlog_per_instance,
    backlog_per_instance,
    choose_for_scale_in,
    instances_to_replace,
    proportional_capacity,
    request_count_per_target,
    requests_since,
    warmed,
)


def policy(**overrides):
    options = dict(target_value=100, min_size=1, max_size=20, scale_out_datapoints=1,
                   scale_in_datapoints=1)
    return TargetTracking(**{**options, **overrides})


# -- AWS's "Scaling policy based on Amazon SQS" worked example ------------------------------
def test_sqs_guide_backlog_per_instance_is_visible_messages_over_in_service_instances():
    assert backlog_per_instance(1500, 10) == 150


def test_sqs_guide_acceptable_backlog_is_latency_over_processing_time():
    assert acceptable_backlog_per_instance(10, 0.1) == pytest.approx(100)


def test_sqs_guide_example_scales_ten_instances_to_fifteen():
    target = acceptable_backlog_per_instance(10, 0.1)
    decision = policy(target_value=target).evaluate(
        0, capacity=10, warming=0, metric=backlog_per_instance(1500, 10))
    assert decision.desired == 15


def test_a_worker_group_at_zero_scales_out_on_its_backlog():
    decision = policy(min_size=0).evaluate(
        0, capacity=0, warming=0, metric=backlog_per_instance(250, 0))
    assert decision.desired == 3


def test_acceptable_backlog_refuses_a_zero_processing_time():
    with pytest.raises(ValueError):
        acceptable_backlog_per_instance(10, 0)


# -- target tracking arithmetic --------------------------------------------------------------
def test_proportional_capacity_rounds_up():
    assert proportional_capacity(3, 101, 100) == 4


def test_proportional_capacity_ignores_float_noise():
    assert proportional_capacity(10, 150.00000000000003, 100) == 15


def test_scale_out_is_clamped_to_the_group_maximum():
    assert policy(max_size=12).evaluate(0, capacity=10, warming=0, metric=150).desired == 12


def test_scale_in_is_clamped_to_the_group_minimum():
    assert policy(min_size=2).evaluate(0, capacity=4, warming=0, metric=1).desired == 2


def test_a_group_outside_its_bounds_is_brought_back_without_a_datapoint():
    assert policy(min_size=2).evaluate(0, capacity=0, warming=0, metric=None).desired == 2


def test_no_datapoint_changes_nothing():
    assert policy().evaluate(0, capacity=3, warming=0, metric=None).desired == 3


def test_at_target_changes_nothing():
    assert policy().evaluate(0, capacity=3, warming=0, metric=100).desired == 3


def test_aws_default_alarms_scale_out_after_three_datapoints_and_in_after_fifteen():
    assert (AWS_SCALE_OUT_DATAPOINTS, AWS_SCALE_IN_DATAPOINTS) == (3, 15)
    tracking = TargetTracking(target_value=100, min_size=1, max_size=10)
    assert tracking.evaluate(0, capacity=2, warming=0, metric=200).desired == 2
    assert tracking.evaluate(60, capacity=2, warming=0, metric=200).desired == 2
    assert tracking.evaluate(120, capacity=2, warming=0, metric=200).desired == 4


def test_scale_in_needs_a_longer_run_of_low_datapoints_than_scale_out():
    tracking = TargetTracking(target_value=100, min_size=1, max_size=10)
    decisions = [tracking.evaluate(60 * minute, capacity=4, warming=0, metric=10).desired
                 for minute in range(AWS_SCALE_IN_DATAPOINTS)]
    assert decisions[:-1] == [4] * (AWS_SCALE_IN_DATAPOINTS - 1)
    assert decisions[-1] == 1


def test_a_datapoint_at_target_restarts_the_streak():
    tracking = policy(scale_out_datapoints=2)
    tracking.evaluate(0, capacity=2, warming=0, metric=200)
    tracking.evaluate(1, capacity=2, warming=0, metric=100)
    assert tracking.evaluate(2, capacity=2, warming=0, metric=200).desired == 2


# -- warm-up and cooldown --------------------------------------------------------------------
def test_warming_instances_are_left_out_of_the_metric():
    instances = [Instance("old", launched_at=0), Instance("new", launched_at=95)]
    assert [i.id for i in warmed(instances, now=100, warmup=30)] == ["old"]


def test_warming_instances_count_as_capacity_so_a_spike_launches_one_batch():
    # 2 warmed instances at 200 requests each launched 2 more (4 for 100/target); while those
    # warm up, the same figure still asks for 4, not 8.
    tracking = policy()
    assert tracking.evaluate(0, capacity=2, warming=0, metric=200).desired == 4
    assert tracking.evaluate(10, capacity=4, warming=2, metric=100).desired == 4


def test_no_scale_in_while_an_instance_warms_up():
    assert policy().evaluate(0, capacity=4, warming=1, metric=10).desired == 4


def test_scale_out_is_not_held_by_warm_up():
    assert policy().evaluate(0, capacity=4, warming=1, metric=200).desired == 8


def test_no_scale_in_within_the_cooldown_after_scaling():
    tracking = policy(scale_in_cooldown=300)
    tracking.evaluate(0, capacity=2, warming=0, metric=200)
    assert tracking.evaluate(299, capacity=4, warming=0, metric=10).desired == 4
    assert tracking.evaluate(300, capacity=4, warming=0, metric=10).desired == 1


def test_scale_out_ignores_the_cooldown():
    tracking = policy(scale_in_cooldown=300)
    tracking.evaluate(0, capacity=2, warming=0, metric=200)
    assert tracking.evaluate(1, capacity=4, warming=0, metric=200).desired == 8


# -- the web metric: ALBRequestCountPerTarget -------------------------------------------------
def test_request_count_per_target_is_per_minute():
    # 3 targets served 2,250 requests in 30 s: 1,500 per target per minute.
    counts = {"a": 700, "b": 800, "c": 750}
    assert request_count_per_target(counts, ["a", "b", "c"], 30) == pytest.approx(1500)


def test_web_group_scales_on_requests_per_target():
    metric = request_count_per_target({"a": 1500, "b": 1500, "c": 1500}, ["a", "b", "c"], 60)
    decision = policy(target_value=1000).evaluate(0, capacity=3, warming=0, metric=metric)
    assert decision.desired == 5


def test_request_count_per_target_leaves_out_warming_targets():
    assert request_count_per_target({"a": 600, "new": 0}, ["a"], 60) == 600


def test_request_count_per_target_without_a_warmed_target_is_no_datapoint():
    assert request_count_per_target({"new": 5}, [], 60) is None


def test_requests_since_takes_differences_of_cumulative_counters():
    assert requests_since({"a": 10, "b": 5}, {"a": 25, "b": 5}) == {"a": 15, "b": 0}


def test_requests_since_a_new_target_has_no_baseline():
    assert requests_since({}, {"a": 40}) == {"a": 0}


def test_requests_since_a_reset_counter_counts_from_zero():
    assert requests_since({"a": 100}, {"a": 7}) == {"a": 7}


# -- replacement and scale-in choice -------------------------------------------------------
def test_a_dead_instance_is_replaced_at_once_even_within_grace():
    dead = Instance("dead", launched_at=0, running=False)
    assert instances_to_replace([dead], now=1, health_check_grace_period=300) == [dead]


def test_an_unhealthy_instance_is_spared_during_its_grace_period():
    booting = Instance("booting", launched_at=0, healthy=False)
    assert instances_to_replace([booting], now=299, health_check_grace_period=300) == []


def test_an_unhealthy_instance_is_replaced_after_its_grace_period():
    sick = Instance("sick", launched_at=0, healthy=False)
    assert instances_to_replace([sick], now=300, health_check_grace_period=300) == [sick]


def test_a_healthy_running_instance_is_kept():
    fine = Instance("fine", launched_at=0)
    assert instances_to_replace([fine], now=1000, health_check_grace_period=0) == []


def test_scale_in_skips_protected_instances_and_takes_unhealthy_then_oldest():
    instances = [Instance("protected", 0, protected_from_scale_in=True),
                 Instance("old", 10), Instance("young", 20), Instance("sick", 30, healthy=False)]
    assert [i.id for i in choose_for_scale_in(instances, 2)] == ["sick", "old"]


def test_policy_refuses_bounds_the_wrong_way_round():
    with pytest.raises(ValueError):
        TargetTracking(target_value=1, min_size=3, max_size=2)
