"""The balancer's settings and the HAProxy configuration rendered from them."""

import os
from dataclasses import dataclass, field
from string import Template

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "etc", "haproxy", "balancer.cfg.template")

#: The HAProxy backend holding the nodes, and the name prefix of its slots (node1, node2 …).
BACKEND = "nodes"
SLOT_PREFIX = "node"
#: Where a free slot points: nothing is ever sent there, the slot being in maintenance.
PLACEHOLDER_HOST = "127.0.0.1"
PLACEHOLDER_PORT = 9
#: A unix socket's path is at most 107 bytes on Linux.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class HealthCheck:
    """A target group's health check; seconds as the ALB's API gives them."""

    path: str = "/readyz"
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    #: The Host header of the check: an ALB sends the target's IP address.
    host: str = "127.0.0.1"

    def __post_init__(self):
        if self.interval <= 0 or self.timeout <= 0:
            raise ValueError("the health check's interval and timeout must be positive")
        if self.healthy_threshold < 1 or self.unhealthy_threshold < 1:
            raise ValueError("the health check's thresholds must be at least 1")
        if not self.path.startswith("/") or any(c.isspace() for c in self.path + self.host):
            raise ValueError("the health check path must be an absolute path without spaces")


#: An ALB target group's defaults for instance targets over HTTP (ELB user guide, "Health
#: checks for Application Load Balancer target groups"): every 30 s, 5 s timeout, healthy
#: after 5 successes, unhealthy after 2 failures, success is 200.
ALB_HEALTH_CHECK = HealthCheck()


@dataclass(frozen=True)
class BalancerConfig:
    """Where the balancer listens, its run directory, and its slots and timeouts."""

    run_dir: str
    port: int
    host: str = "127.0.0.1"
    #: How many nodes may be registered at once (the server-template's slots).
    slots: int = 16
    health: HealthCheck = field(default_factory=HealthCheck)
    #: Seconds of silence on a connection before it is closed: the ALB's idle timeout.
    idle_timeout: float = 60.0
    #: Seconds a node may take to answer; past it a GET or HEAD is retried elsewhere.
    server_timeout: float = 60.0
    connect_timeout: float = 2.0
    #: Attempts after the first, each on another node.
    retries: int = 3
    hard_stop_after: float = 30.0

    def __post_init__(self):
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
        if not 1 <= self.slots <= 1000:
            raise ValueError("slots must be between 1 and 1000")
        if self.retries < 0:
            raise ValueError("retries cannot be negative")
        if len(self.socket_path.encode()) > MAX_SOCKET_PATH:
            raise ValueError(f"run directory {self.run_dir!r} is too deep for a unix socket; "
                             "choose a shorter one")

    @property
    def socket_path(self):
        """The runtime API's unix socket."""
        return os.path.join(self.run_dir, "admin.sock")

    @property
    def config_path(self):
        return os.path.join(self.run_dir, "haproxy.cfg")

    def render(self):
        """The HAProxy configuration text."""
        with open(TEMPLATE, encoding="utf-8") as template:
            text = Template(template.read())
        return text.substitute(
            run_dir=self.run_dir, host=self.host, port=self.port, slots=self.slots,
            slot_prefix=SLOT_PREFIX, placeholder_host=PLACEHOLDER_HOST,
            placeholder_port=PLACEHOLDER_PORT,
            health_path=self.health.path, health_host=self.health.host,
            check_interval=_ms(self.health.interval), check_timeout=_ms(self.health.timeout),
            healthy_threshold=self.health.healthy_threshold,
            unhealthy_threshold=self.health.unhealthy_threshold,
            connect_timeout=_ms(self.connect_timeout),
            client_timeout=_ms(self.idle_timeout), server_timeout=_ms(self.server_timeout),
            retries=self.retries, hard_stop_after=_seconds(self.hard_stop_after),
        )


def _ms(seconds):
    return max(int(round(seconds * 1000)), 1)


def _seconds(seconds):
    return max(int(round(seconds)), 1)
