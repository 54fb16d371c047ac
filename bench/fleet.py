"""The chaos run (`make chaos`): Stratus's fleet and a default-Django baseline, same abuse.

Each fleet (localaws.fleet: HAProxy as the ALB, auto-scaled web nodes and workers on the
local stack and PostgreSQL) runs for CHAOS_SECONDS (default 300) while virtual users
(bench/fleet_journey.py) repeat their journey and this script:

- kills a random web node with SIGKILL every 20 s (its whole process tree, as a machine
  dying); the controller replaces it;
- kills a worker while a task is in flight (SQS shows a message not visible);
- adds a load spike (as many extra users again, with small files) from 30% to 55% of the
  run, so that the web group scales out, and then, once it ends, back in;
- has SimpleDB fail 5% of its calls for the whole run.

Then it verifies every file the users kept, and prints one table: Stratus beside the
baseline (the same site with file sessions on each node's disk, LocMemCache, files on each
node's disk and tasks run in the request: bench/baseline_settings.py). Only loopback is used;
every port is a free one, so two runs can share a machine.
"""

import argparse
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.fleet_journey import Tally, run_users, verify  # noqa: E402
from localaws import free_port  # noqa: E402
from localaws.autoscaling.controller import Timings  # noqa: E402
from localaws.fleet import Fleet, FleetConfig  # noqa: E402

POSTGRES = "postgres://postgres@127.0.0.1:5432/"
KILL_EVERY = 20.0
SPIKE = (0.30, 0.55)  # the spike's start and end, as fractions of the run
SPIKE_SIZES = (1_000, 20_000)
#: Spike users per regular user: light journeys, so the spike raises the request rate.
SPIKE_FACTOR = 2
#: The web group's target, set as the spike starts: this much above the requests per node
#: per minute measured before it (from WARM_UP on), so that the spike, not the machine's
#: speed that day, decides the scale-out; until then nothing scales on load.
TARGET_ABOVE_MEASURED = 1.1
WARM_UP = 20.0
UNSET_TARGET = 1e9
#: SimpleDB calls answered 503 during the run.
SIMPLEDB_FAIL_RATE = 0.05
#: Seconds, once every kept file has been downloaded again, for the last facts to arrive (a
#: killed worker's tasks come back after SQS's visibility timeout; a backlog drains).
FACTS_WAIT = 120.0
#: Seconds of slack when matching a failed request to a node killed while it was in flight.
IN_FLIGHT_SLACK = 1.0
#: The controller's clock for the run: datapoints every 3 s, scale-in after 10 low ones.
CHAOS_TIMINGS = Timings(period=3.0, warmup=10.0, scale_in_cooldown=20.0,
                        scale_out_datapoints=3, scale_in_datapoints=10,
                        deregistration_delay=30.0, health_check_grace=20.0)

#: Each fleet's settings module and worker group bounds: a default project has no queue
#: (its tasks run in the request), so the baseline runs no worker.
MODES = {
    "stratus": ("bench.fleet_settings", (1, 2)),
    "baseline": ("bench.baseline_settings", (0, 0)),
}


def reset_database(name, *flags):
    """Reset (or with "--drop", drop) the PostgreSQL database `name` on loopback."""
    result = subprocess.run([sys.executable, "bin/reset-database", *flags, POSTGRES + name],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        sys.exit(result.stderr.strip() or result.stdout.strip())


class Chaos:
    """The abuse of one run, on its own thread; remembers what it did and when."""

    def __init__(self, fleet, seconds, users, seed, tally, fixed_target=None):
        self.fleet = fleet
        self.fixed_target = fixed_target
        self.measured_from = None  # (monotonic time, requests so far)
        self.target = None
        self.seconds = seconds
        self.users = users
        self.seed = seed
        self.tally = tally
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.node_kills = []  # monotonic times
        self.worker_kills = []
        self.spike_at = None
        self.spike_threads = []
        self._spike_stop = threading.Event()

    def run(self, start):
        next_kill = start + KILL_EVERY
        worker_kill_after = start + 0.15 * self.seconds
        spike_start, spike_end = (start + f * self.seconds for f in SPIKE)
        while not self.stop.wait(0.2):
            now = time.monotonic()
            if now >= next_kill:
                if self.fleet.kill(self.fleet.web, self.rng):
                    self.node_kills.append(time.monotonic())
                next_kill += KILL_EVERY
            if not self.worker_kills and now >= worker_kill_after and self._task_in_flight():
                if self.fleet.kill(self.fleet.workers, self.rng):
                    self.worker_kills.append(time.monotonic())
            # A short run's spike may start before WARM_UP: then measure from the start.
            if self.measured_from is None and now >= start + min(WARM_UP, 0.15 * self.seconds):
                self.measured_from = (now, self.tally.requests)
            if self.spike_at is None and now >= spike_start:
                self.spike_at = now
                self._set_target(now)
                self.spike_threads = run_users(self.fleet.url, SPIKE_FACTOR * self.users,
                                               self._spike_stop, self.tally, self.seed,
                                               first_index=self.users, size_range=SPIKE_SIZES)
            if self.spike_at is not None and not self._spike_stop.is_set() and now >= spike_end:
                self._spike_stop.set()
        self._spike_stop.set()

    def _set_target(self, now):
        """The web target, from the rate per node measured since WARM_UP (unless given)."""
        if self.fixed_target:
            self.target = self.fixed_target
        else:
            since, requests = self.measured_from or (now, self.tally.requests)
            per_minute = (self.tally.requests - requests) / max(now - since, 1) * 60
            per_node = per_minute / self.fleet.config.web_min
            self.target = max(TARGET_ABOVE_MEASURED * per_node, 1.0)
        self.fleet.web.policy.target_value = self.target

    def _task_in_flight(self):
        """Whether a worker holds a message now (one not visible in its queues)."""
        workers = self.fleet.workers
        try:
            return any(workers.queue_attribute(name, "ApproximateNumberOfMessagesNotVisible")
                       for name in workers.queue_names)
        except Exception:  # noqa: BLE001 - try again on the next look
            return False


def run_mode(mode, args):
    """One fleet under chaos: the figures of its table column."""
    port = free_port()
    database_name = f"stratus_chaos_{mode}_{port}"
    reset_database(database_name)
    run_dir = os.path.join(ROOT, "var", f"chaos-{mode}-{port}")
    settings_module, (worker_min, worker_max) = MODES[mode]
    config = FleetConfig(
        port=port, run_dir=run_dir, web_min=args.web_min, web_max=args.web_max,
        worker_min=worker_min, worker_max=worker_max, web_target=UNSET_TARGET,
        timings=CHAOS_TIMINGS, simpledb_fail_rate=SIMPLEDB_FAIL_RATE,
        environment={"DATABASE_URL": POSTGRES + database_name,
                     "DJANGO_SETTINGS_MODULE": settings_module},
        web_environment={"STRATUS_BASELINE_DIR": "{run_dir}"})
    print(f"[{mode}] starting the fleet on port {port} ...", flush=True)
    fleet = Fleet(config).start()
    tally = Tally()
    try:
        start = time.monotonic()
        stop = threading.Event()
        users = run_users(fleet.url, args.users, stop, tally, args.seed)
        chaos = Chaos(fleet, args.seconds, args.users, args.seed, tally, args.web_target)
        chaos_thread = threading.Thread(target=chaos.run, args=(start,), daemon=True)
        chaos_thread.start()
        last_requests, last_report = 0, start
        while time.monotonic() - start < args.seconds:
            time.sleep(1)  # the run's length is the point: users and chaos run meanwhile
            now = time.monotonic()
            if now - last_report >= 30:
                nodes = len(fleet.in_service(fleet.web))
                rate = (tally.requests - last_requests) / (now - last_report) * 60
                print(f"[{mode}] {now - start:.0f}s: {tally.requests} requests, "
                      f"{len(tally.failures)} failed; {nodes} web nodes, "
                      f"{rate / max(nodes, 1):.0f} requests per node per minute", flush=True)
                last_requests, last_report = tally.requests, now
        chaos.stop.set()
        stop.set()
        chaos_thread.join()
        for thread in users + chaos.spike_threads:
            thread.join(timeout=120)
        ended = time.monotonic()
        print(f"[{mode}] verifying {len(tally.kept_files())} kept files ...", flush=True)
        summary = verify(fleet.url, tally, facts_wait=FACTS_WAIT)
        summary.update(fleet_figures(fleet, chaos, tally, start, ended))
        summary["seconds"] = ended - start
        return summary
    finally:
        fleet.stop()
        if not args.keep_logs:
            reset_database(database_name, "--drop")
            shutil.rmtree(run_dir, ignore_errors=True)


_ID = re.compile(r"/[A-Za-z0-9_-]{22}/")


def failed_steps(tally):
    """Failed requests by cause and step ("connection /library/upload/": 3), most first."""
    steps = Counter()
    for failure in tally.failures:
        path = _ID.sub("/<id>/", failure.path)
        if not path.startswith(("/library", "/accounts", "/admin", "/readyz", "/healthz")):
            path = "S3 " + path.split("/", 2)[1]  # a presigned download from the bucket
        steps[f"{failure.cause} {path}"] += 1
    return dict(steps.most_common())


def fleet_figures(fleet, chaos, tally, start, ended):
    """What the controller and the chaos did, and failures attributed to killed nodes."""
    events = fleet.controller.events_since(start)
    web = fleet.web.name
    serving = [e for e in events if e.group == web and e.what == "serving" and "scale-out" in e.detail]
    spike_to_serving = None
    if chaos.spike_at is not None:
        after = [e.at - chaos.spike_at for e in serving if e.at >= chaos.spike_at]
        spike_to_serving = min(after) if after else None
    in_flight_on_killed = sum(
        1 for failure in tally.failures
        if any(failure.start - IN_FLIGHT_SLACK <= kill <= failure.end + IN_FLIGHT_SLACK
               for kill in chaos.node_kills))
    return {
        "failed_steps": failed_steps(tally),
        "web_target": chaos.target,
        "node_kills": len(chaos.node_kills),
        "worker_kills": len(chaos.worker_kills),
        "replacements": sum(e.what == "replaced" for e in events),
        "scale_outs": sum(e.group == web and e.what == "scale-out" for e in events),
        "scale_ins": sum(e.group == web and e.what == "deregistered" for e in events),
        "spike_to_serving": spike_to_serving,
        "failed_while_scaling_in": fleet.web.failed_while_scaling_in,
        "failed_in_flight_on_killed": in_flight_on_killed,
        "failed_otherwise": len(tally.failures) - in_flight_on_killed,
    }


ROWS = [
    ("seconds of chaos", "seconds", "{:.0f}"),
    ("journeys completed", "journeys", "{}"),
    ("journeys cut short by a failure", "journeys_broken", "{}"),
    ("requests", "requests", "{}"),
    ("failed requests", "failed_requests", "{}"),
    ("  % of all requests", "failed_percent", "{:.3f}%"),
    ("  in flight on a killed node", "failed_in_flight_on_killed", "{}"),
    ("  otherwise", "failed_otherwise", "{}"),
    ("  by cause", "failed_by_cause", "{}"),
    ("  by cause and step", "failed_steps", "{}"),
    ("sessions lost", "sessions_lost", "{}"),
    ("uploads lost", "uploads_lost", "{}"),
    ("uploads corrupted", "uploads_corrupted", "{}"),
    ("tasks lost (facts never recorded)", "tasks_lost", "{}"),
    ("duplicate effects", "duplicate_effects", "{}"),
    ("files kept and verified", "files_verified", "{}"),
    ("p50 latency (ms)", "p50_ms", "{:.0f}"),
    ("p99 latency (ms)", "p99_ms", "{:.0f}"),
    ("web nodes killed / workers killed", ("node_kills", "worker_kills"), "{} / {}"),
    ("instances replaced", "replacements", "{}"),
    ("scale-outs / scale-ins (web)", ("scale_outs", "scale_ins"), "{} / {}"),
    ("web target from the spike (requests/node/min)", "web_target", "{:.0f}"),
    ("spike -> scaled-out node serving (s)", "spike_to_serving", "{:.1f}"),
    ("failed requests on nodes scaled in", "failed_while_scaling_in", "{}"),
]


def cell(summary, key, pattern):
    if summary is None:
        return "-"
    values = [summary.get(k) for k in (key if isinstance(key, tuple) else (key,))]
    if any(value is None for value in values):
        return "none"
    if isinstance(values[0], dict):
        return ", ".join(f"{k}: {v}" for k, v in values[0].items()) or "-"
    return pattern.format(*values)


def table(results, args):
    lines = [f"Chaos run: {args.users} users (+{SPIKE_FACTOR * args.users} during the spike), "
             f"{args.seconds:g} s per fleet, web {args.web_min}-{args.web_max} nodes, "
             f"a web node SIGKILLed every {KILL_EVERY:g} s, a worker killed mid-task, "
             f"SimpleDB failing {SIMPLEDB_FAIL_RATE:.0%} of calls", "",
             "| | Stratus | default Django (baseline) |", "|---|---|---|"]
    for label, key, pattern in ROWS:
        lines.append(f"| {label} | {cell(results.get('stratus'), key, pattern)} "
                     f"| {cell(results.get('baseline'), key, pattern)} |")
    return "\n".join(lines)


def targets(summary):
    """Issue 10's targets for Stratus: (what, met)."""
    return [
        ("0 sessions lost", summary["sessions_lost"] == 0),
        ("0 uploads lost or corrupted", summary["uploads_lost"] + summary["uploads_corrupted"] == 0),
        ("0 tasks lost", summary["tasks_lost"] == 0),
        ("0 duplicate effects", summary["duplicate_effects"] == 0),
        ("0 failed requests on nodes scaled in", summary["failed_while_scaling_in"] == 0),
        ("failures only in flight on killed nodes", summary["failed_otherwise"] == 0),
        ("failed requests <= 0.1%", summary["failed_percent"] <= 0.1),
        ("scaled-out node serving within 30 s of the spike",
         summary["spike_to_serving"] is not None and summary["spike_to_serving"] <= 30),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("CHAOS_SECONDS", 300)))
    parser.add_argument("--users", type=int, default=int(os.environ.get("CHAOS_USERS", 40)))
    parser.add_argument("--seed", default="chaos")
    parser.add_argument("--web-min", type=int, default=2)
    parser.add_argument("--web-max", type=int, default=4)
    parser.add_argument("--web-target", type=float,
                        help="requests per node per minute the web group tracks from the "
                             f"spike on (default: {TARGET_ABOVE_MEASURED:g} x the rate measured "
                             "before it)")
    parser.add_argument("--only", choices=sorted(MODES), help="run one fleet only")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep each fleet's instance logs (var/chaos-*) and database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("localaws.fleet").setLevel(logging.INFO)
    # The stack logs each SimpleDB call it fails on purpose: thousands of lines.
    logging.getLogger("localaws.requests").setLevel(logging.CRITICAL)
    results = {}
    for mode in [args.only] if args.only else ["stratus", "baseline"]:
        results[mode] = run_mode(mode, args)
    print()
    print(table(results, args))
    if "stratus" in results:
        print()
        for what, met in targets(results["stratus"]):
            print(f"  {'met ' if met else 'MISSED'}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
