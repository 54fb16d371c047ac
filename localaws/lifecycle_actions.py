"""Lifecycle actions for moto's Auto Scaling: the part of a terminate hook moto 5.2 lacks.

moto holds groups and lifecycle hooks, but TerminateInstanceInAutoScalingGroup ignores the
hooks and it has no CompleteLifecycleAction or RecordLifecycleActionHeartbeat. `install()`
adds them to moto's own Auto Scaling backend and responses, so that a worker talks to the
local stack through the same calls as to AWS:

- terminating an instance of a group with an `autoscaling:EC2_INSTANCE_TERMINATING` hook
  puts it in `Terminating:Wait` (DescribeAutoScalingInstances shows it) instead of ending it;
- RecordLifecycleActionHeartbeat on a waiting instance is accepted and counted;
- CompleteLifecycleAction on a waiting instance moves it to `Terminating:Proceed` and then
  terminates it as moto would have; on any other instance it is AWS's ValidationError
  "No active Lifecycle Action found with instance ID ...".

Hooks' heartbeat timeouts are not enforced here: whoever plays the Auto Scaling service
(the local controller) decides when a waiting instance has waited long enough.
"""

import threading

TERMINATING_TRANSITION = "autoscaling:EC2_INSTANCE_TERMINATING"
WAIT = "Terminating:Wait"
PROCEED = "Terminating:Proceed"

_installed = threading.Lock()
#: moto's own TerminateInstanceInAutoScalingGroup, once `install()` has replaced it.
_moto_terminate = None


def install():
    """Teach moto's Auto Scaling the lifecycle actions above (once per process)."""
    global _moto_terminate
    with _installed:
        if _moto_terminate is not None:
            return
        from moto.autoscaling.models import AutoScalingBackend
        from moto.autoscaling.responses import AutoScalingResponse

        _moto_terminate = AutoScalingBackend.terminate_instance
        AutoScalingBackend.terminate_instance = _terminate_instance
        AutoScalingBackend.complete_lifecycle_action = _complete
        AutoScalingBackend.record_lifecycle_action_heartbeat = _heartbeat
        AutoScalingResponse.complete_lifecycle_action = _complete_response
        AutoScalingResponse.record_lifecycle_action_heartbeat = _heartbeat_response


def _terminate_hook(backend, group_name):
    return next((hook for hook in backend.lifecycle_hooks.values()
                 if hook.auto_scaling_group_name == group_name
                 and hook.lifecycle_transition == TERMINATING_TRANSITION), None)


def _instance_state(backend, instance_id):
    return next((state for group in backend.autoscaling_groups.values()
                 for state in group.instance_states if state.instance.id == instance_id), None)


def _terminate_instance(self, instance_id, should_decrement):
    from moto.autoscaling.models import TerminateInstanceActivity

    state = _instance_state(self, instance_id)
    if state is None or _terminate_hook(self, state.auto_scaling_group_name) is None:
        return _moto_terminate(self, instance_id, should_decrement)
    original_size = state.auto_scaling_group.desired_capacity
    if state.lifecycle_state != WAIT:
        state.lifecycle_state = WAIT
        state.heartbeats = 0
        state.should_decrement = should_decrement
    return TerminateInstanceActivity(state.instance, original_size)


def _waiting(backend, group_name, hook_name, instance_id):
    from moto.autoscaling.exceptions import ValidationError

    state = _instance_state(backend, instance_id)
    hook = backend.lifecycle_hooks.get(f"{group_name}_{hook_name}")
    if (state is None or hook is None or state.auto_scaling_group_name != group_name
            or state.lifecycle_state != WAIT):
        raise ValidationError(
            f"No active Lifecycle Action found with instance ID {instance_id}")
    return state


def _complete(self, group_name, hook_name, instance_id, result):
    from moto.autoscaling.exceptions import ValidationError

    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError("LifecycleActionResult must be CONTINUE or ABANDON")
    state = _waiting(self, group_name, hook_name, instance_id)
    # For a terminate hook both results let the termination go ahead.
    state.lifecycle_state = PROCEED
    state.lifecycle_action_result = result
    _moto_terminate(self, instance_id, state.should_decrement)


def _heartbeat(self, group_name, hook_name, instance_id):
    state = _waiting(self, group_name, hook_name, instance_id)
    state.heartbeats = getattr(state, "heartbeats", 0) + 1


def _complete_response(self):
    from moto.core.responses import EmptyResult

    self.autoscaling_backend.complete_lifecycle_action(
        self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName"),
        self._get_param("InstanceId"), self._get_param("LifecycleActionResult"))
    return EmptyResult()


def _heartbeat_response(self):
    from moto.core.responses import EmptyResult

    self.autoscaling_backend.record_lifecycle_action_heartbeat(
        self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName"),
        self._get_param("InstanceId"))
    return EmptyResult()
