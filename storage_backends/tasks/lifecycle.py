"""The worker's side of an Auto Scaling terminate lifecycle hook (docs/tasks.md, "The worker").

When Auto Scaling scales in an instance of a group with an
`autoscaling:EC2_INSTANCE_TERMINATING` hook, the instance waits in `Terminating:Wait` and
its instance metadata item `autoscaling/target-lifecycle-state` reads `Terminated`. A worker
given a hook name polls that item (`LifecycleHook.watch`, a thread of the worker's crew);
once it reads `Terminated` the worker drains exactly as on SIGTERM (stop receiving, finish
within the grace period, hand the rest back) and then `LifecycleHook.finish` completes the
lifecycle action with CONTINUE, so the instance goes at once instead of at the hook's
timeout. A worker stopped by SIGTERM also completes the action if its instance is
terminating, so a supervisor that signals the worker first loses nothing either.

No heartbeat is recorded: a drain lasts at most the worker's shutdown grace (then what is
left is handed back to SQS), so a hook whose HeartbeatTimeout exceeds the grace plus one
poll never times out during a drain, and the instance role needs no
RecordLifecycleActionHeartbeat permission. The group is the one the setting names, or else
the instance's own, asked of DescribeAutoScalingInstances (instance metadata does not hold
it; its instance tags would, only where the launch template enables metadata tags).

Instance metadata is read with IMDSv2 (a token first) from botocore's own endpoint
setting (`AWS_EC2_METADATA_SERVICE_ENDPOINT` or the config file), so a local stand-in can
serve it (`localaws.imds`). botocore's IMDS fetchers read only credentials and region
publicly and read whole bodies, so this reads each answer itself, bounded in size and time.
An unreachable or garbled metadata service means "not terminating": it is logged once, and
the worker goes on working.
"""

import logging
import os
import re
import time

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session
from botocore.utils import IMDSFetcher

from storage_backends import aws

logger = logging.getLogger("storage_backends.tasks.worker")

TOKEN_PATH = "latest/api/token"
TARGET_STATE_PATH = "latest/meta-data/autoscaling/target-lifecycle-state"
INSTANCE_ID_PATH = "latest/meta-data/instance-id"
#: The target lifecycle state of an instance a terminate hook holds.
TERMINATED = "Terminated"
#: Seconds to connect to, and then to read from, the metadata service (it is on the host).
METADATA_TIMEOUT = 1.0
#: Bytes read of any metadata answer; longer answers are garbage. Real ones are < 100.
MAX_ANSWER = 256
#: Token lifetime asked for (IMDSv2 allows 1-21,600 s); renewed a minute before it ends.
TOKEN_TTL = 21600
#: Target lifecycle states are words and colons (`InService`, `Warmed:Stopped` ...).
STATE = re.compile(r"[A-Za-z]+(:[A-Za-z]+)*\Z")
INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}\Z")
TOKEN = re.compile(r"[\x21-\x7e]{1,%d}\Z" % MAX_ANSWER)
#: AWS's pattern for a lifecycle hook name, and its length limit (also for group names).
HOOK_NAME = re.compile(r"[A-Za-z0-9_/-]{1,255}\Z")
MAX_NAME = 255


class MetadataUnavailable(Exception):
    """The metadata service gave no usable answer; the message says why, in one line."""


def metadata_base_url():
    """The metadata service's base URL as botocore resolves it (endpoint setting or mode)."""
    session = get_session()
    config = {name: session.get_config_variable(name)
              for name in ("ec2_metadata_service_endpoint", "ec2_metadata_service_endpoint_mode")}
    return IMDSFetcher(config=config).get_base_url()


class InstanceMetadata:
    """Reads instance metadata items with IMDSv2, each answer bounded in bytes and time."""

    def __init__(self, base_url=None, timeout=METADATA_TIMEOUT):
        self.base_url = (base_url or metadata_base_url()).rstrip("/")
        self.disabled = os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, maxsize=1)
        self._token = None
        self._token_renew_at = 0.0

    def get(self, path):
        """The text of the item at `path` (under the base URL); MetadataUnavailable if none."""
        if self.disabled:
            raise MetadataUnavailable("AWS_EC2_METADATA_DISABLED is true")
        for attempt in (1, 2):
            token = self._fresh_token()
            status, body = self._request("GET", path, {"X-aws-ec2-metadata-token": token})
            if status == 401 and attempt == 1:
                self._token = None  # expired or revoked: one new token, one more try
                continue
            if status != 200:
                raise MetadataUnavailable(f"{path} answered HTTP {status}")
            return body

    def _fresh_token(self):
        if self._token is None or time.monotonic() >= self._token_renew_at:
            status, body = self._request(
                "PUT", TOKEN_PATH, {"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL)})
            if status != 200 or not TOKEN.match(body):
                raise MetadataUnavailable(f"no IMDSv2 token (HTTP {status})")
            self._token = body
            self._token_renew_at = time.monotonic() + TOKEN_TTL - 60
        return self._token

    def _request(self, method, path, headers):
        url = f"{self.base_url}/{path}"
        try:
            response = self._http.request(method, url, headers=headers, preload_content=False,
                                          redirect=False)
            try:
                body = response.read(MAX_ANSWER + 1)
            finally:
                # Closed, not returned to the pool: an oversized answer is never drained.
                response.close()
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise MetadataUnavailable(f"{url}: {type(error).__name__}") from None
        if len(body) > MAX_ANSWER:
            raise MetadataUnavailable(f"{path} answered more than {MAX_ANSWER} bytes")
        try:
            return response.status, body.decode("ascii").strip()
        except UnicodeDecodeError:
            raise MetadataUnavailable(f"{path} answered non-ASCII bytes") from None


class LifecycleHook:
    """A worker's terminate hook: watches for its instance terminating, then completes.

    `hook` is the lifecycle hook's name; `group` the Auto Scaling group's (None: the
    instance's own); `poll_seconds` how often the metadata is read.
    """

    def __init__(self, hook, group=None, poll_seconds=5.0, metadata=None, worker_id=""):
        if not HOOK_NAME.match(hook or ""):
            raise ValueError(f"lifecycle hook name {hook!r} must be 1-255 of A-Z a-z 0-9 _ - /")
        if group is not None and not (0 < len(group) <= MAX_NAME and group.isprintable()):
            raise ValueError("Auto Scaling group name must be 1-255 printable characters")
        if not poll_seconds > 0:
            raise ValueError(f"lifecycle poll interval must be positive, not {poll_seconds}")
        self.hook = hook
        self.group = group
        self.poll_seconds = poll_seconds
        try:
            self.metadata = metadata or InstanceMetadata()
        except BotoCoreError as error:  # botocore refused the metadata endpoint setting
            raise ValueError(f"instance metadata endpoint: {error}") from None
        self.worker_id = worker_id
        #: Whether the instance was seen terminating.
        self.terminating = False
        #: Whether the lifecycle action was completed.
        self.completed = False
        self._unavailable = None  # why the last read failed, to log each new reason once

    def watch(self, control):
        """Poll until the worker stops; on `Terminated`, start the worker's drain."""
        while not control.stopping.is_set():
            if self.poll():
                logger.info("worker=%s lifecycle=terminating hook=%s: draining",
                            self.worker_id, self.hook)
                control.drain()
                return
            control.stopping.wait(self.poll_seconds)

    def finish(self):
        """After the worker has drained: complete the lifecycle action if the instance is
        terminating (seen by `watch`, or now); returns whether it was completed."""
        if not (self.terminating or self.poll()):
            return False
        try:
            instance_id = self.metadata.get(INSTANCE_ID_PATH)
            if not INSTANCE_ID.match(instance_id):
                raise MetadataUnavailable(
                    f"instance-id {instance_id[:40]!r} is not an instance id")
            client = aws.client("autoscaling")
            group = self.group or self._group_of(client, instance_id)
            client.complete_lifecycle_action(
                LifecycleHookName=self.hook, AutoScalingGroupName=group,
                InstanceId=instance_id, LifecycleActionResult="CONTINUE")
        except (MetadataUnavailable, ClientError, BotoCoreError) as error:
            # The hook's DefaultResult applies at its timeout; nothing is held any more.
            logger.error("worker=%s lifecycle=complete-failed hook=%s error=%s",
                         self.worker_id, self.hook, error)
            return False
        self.completed = True
        logger.info("worker=%s lifecycle=completed hook=%s group=%s instance=%s result=CONTINUE",
                    self.worker_id, self.hook, group, instance_id)
        return True

    def _group_of(self, client, instance_id):
        found = client.describe_auto_scaling_instances(InstanceIds=[instance_id])
        for instance in found.get("AutoScalingInstances", []):
            if instance.get("InstanceId") == instance_id:
                return instance["AutoScalingGroupName"]
        raise MetadataUnavailable(f"instance {instance_id} is in no Auto Scaling group")

    def poll(self):
        """Read the target lifecycle state once; whether the instance is (or was seen)
        terminating. An unusable answer is "not terminating", logged once per reason."""
        try:
            state = self.metadata.get(TARGET_STATE_PATH)
            if not STATE.match(state):
                raise MetadataUnavailable(
                    f"target-lifecycle-state {state[:40]!r} is not a lifecycle state")
        except MetadataUnavailable as error:
            if str(error) != self._unavailable:
                logger.warning("worker=%s lifecycle=unknown hook=%s error=%s: "
                               "taken as not terminating", self.worker_id, self.hook, error)
                self._unavailable = str(error)
            return False
        if self._unavailable is not None:
            logger.info("worker=%s lifecycle=readable hook=%s state=%s", self.worker_id,
                        self.hook, state)
            self._unavailable = None
        self.terminating = self.terminating or state == TERMINATED
        return self.terminating
