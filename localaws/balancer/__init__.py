"""HAProxy in the role of the AWS Application Load Balancer for the local fleet.

`config` renders etc/haproxy/balancer.cfg.template, `process` runs HAProxy from it, and
`runtime` registers, drains and deregisters nodes and reads their counters through HAProxy's
runtime API. docs/fleet.md says which ALB behaviour each setting stands in for.
"""

from localaws.balancer.config import ALB_HEALTH_CHECK, BalancerConfig, HealthCheck
from localaws.balancer.process import Balancer, BalancerError
from localaws.balancer.runtime import RuntimeAPI, ServerStats

__all__ = ["ALB_HEALTH_CHECK", "Balancer", "BalancerConfig", "BalancerError", "HealthCheck",
           "RuntimeAPI", "ServerStats"]
