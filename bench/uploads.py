"""The upload benchmark (`make bench-uploads`): files through the web node, then straight to S3.

One real web node (bin/start-node: nginx in front of gunicorn, the production layout) on the
local AWS stack (`python -m localaws`, its own process), both on free loopback ports, and one
logged-in user. Each file (1 MB, 50 MB and 500 MB by default; `--sizes`) is uploaded two ways:

- proxied: the upload form, one multipart/form-data POST to /library/upload/ streamed from
  disk (the form's limits are raised for the run), until the node answers with the redirect
  to the file's page, which it sends once the file is in S3 and its row saved;
- direct: the direct-upload API (/library/uploads/): create, then a presigned POST (small
  files) or the multipart upload's parts PUT to S3, 4 at a time, with URLs the node signed,
  then complete, until complete answers 201 (the file verified and published).

For each it measures:

- wall time, from the first byte sent to the node to that last answer;
- bytes through the web node, both directions, heads and bodies apart: a counting TCP relay
  (bench/counting_relay.py) sits in front of the node's port and every request of the bench
  goes through it, so these are the bytes on the node's wire, not an estimate;
- the node's CPU seconds: user + system of the nginx and gunicorn process trees (psutil),
  read before and after the upload once the node is idle again (an idle node uses none
  that the kernel's 10 ms clock ticks show); per GB uploaded (10^9 bytes).

Everything shares this machine's cores: the bench's client, the relay, the node and moto
(which also checksums and stores every byte it receives). Then it prints one table, proxied
and direct side by side per size, and whether the direct path meets issue 11's targets;
exit status 1 if one is missed.
"""

import argparse
import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.counting_relay import CountingRelay  # noqa: E402
from bench.upload_client import REQUEST_TIMEOUT, BenchError, Uploader  # noqa: E402
from localaws import free_port  # noqa: E402

DEFAULT_SIZES = "1MB,50MB,500MB"
#: Issue 11's targets for the direct path: bytes through the node per file, its share of
#: the proxied path's node CPU per GB, and its speed relative to the proxied path.
TARGET_NODE_BYTES = 2048
TARGET_CPU_SHARE = 0.01
TARGET_SPEED = 1.0
#: Seconds the node and the stack may take to start.
START_TIMEOUT = 90
#: The node counts as idle once its CPU time grows by less than this in one look.
IDLE_CPU_STEP = 0.005
IDLE_LOOK = 0.2
IDLE_TIMEOUT = 30
#: Uploads each way before measuring, per gunicorn worker: a worker's first requests import
#: and build what later ones reuse, a cost a node in service has long paid. One small file
#: and one big enough for a multipart upload (the API's threshold is 16 MiB).
WARM_UP_SIZES = (1000, 17 * 2**20)
USERNAME, PASSWORD = "bench", "bench-uploads-password"
PATHS = ("proxied", "direct")

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


# -- arguments ---------------------------------------------------------------------------------
def parse_size(text):
    """Bytes in "500MB", "17MiB", "1KB" or "1234" (KB/MB/GB are powers of 10)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match and match.group(2).upper()
    if not match or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 500MB, 17MiB or 1234)")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise argparse.ArgumentTypeError(f"a file needs at least one byte, not {text!r}")
    return size


def sizes(text):
    return [parse_size(part) for part in text.split(",")]


def human(size):
    """"500 MB", "17 MiB", "1 KB": the size as the user would have written it."""
    for unit, factor in (("GB", 10**9), ("GiB", 2**30), ("MB", 10**6), ("MiB", 2**20),
                         ("KB", 10**3), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


# -- the stack and the node --------------------------------------------------------------------
def wait_until(condition, what, timeout, process=None):
    """Poll `condition()` until it is true; BenchError after `timeout` s or if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"{what}: the process exited with status {process.returncode}")
        if condition():
            return
        time.sleep(0.1)  # polling another process, which tells us nothing when ready
    raise BenchError(f"{what}: not within {timeout} s")


def _die_with_parent():
    """In a child, before exec: SIGTERM when the bench dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def answers(url):
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


class Site:
    """The local AWS stack, one web node on it, and a counting relay in front of the node."""

    def __init__(self, work_dir, max_size, workers):
        self.work_dir = work_dir
        self.max_size = max_size
        self.workers = workers
        self.processes = []
        self.relay = None
        self.env = None

    def start(self):
        env_file = os.path.join(self.work_dir, "localaws.env")
        stack = self._spawn("localaws", [sys.executable, "-m", "localaws", "--moto-port", "0",
                                         "--simpledb-port", "0", "--memory",
                                         "--env-file", env_file], os.environ)
        wait_until(lambda: os.path.exists(env_file), "the local AWS stack", START_TIMEOUT, stack)
        port = free_port()
        self.env = {**os.environ, **self._stack_env(env_file), **self.node_settings(port)}
        self.manage("provision_aws")
        self.manage("migrate", "--noinput")
        self.manage("shell", "--no-imports", "-c",
                    "from django.contrib.auth import get_user_model; "
                    f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})")
        run_dir = tempfile.mkdtemp(prefix="stratus-bench-node-")  # a short socket path
        self.run_dir = run_dir
        self.node = self._spawn("node", [os.path.join(ROOT, "bin", "start-node"), "--port",
                                         str(port), "--run-dir", run_dir,
                                         "--workers", str(self.workers)], self.env)
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the web node",
                   START_TIMEOUT, self.node)
        self.relay = CountingRelay(("127.0.0.1", port)).start()
        return self

    def node_settings(self, port):
        """The node's environment: production-like, with the form's limits above the files."""
        limit = str(max(2 * self.max_size, 5 * 2**30))
        return {
            "DATABASE_URL": f"sqlite:///{os.path.join(self.work_dir, 'db.sqlite3')}",
            "DJANGO_DEBUG": "false",
            "PORT": str(port),
            "STRATUS_UPLOAD_MAX_BYTES": limit,
            "STRATUS_FORM_UPLOAD_MAX_BYTES": limit,
            "STRATUS_UPLOAD_BODY_MAX_BYTES": str(int(limit) + 2**20),  # and the form fields
            # nginx waits this long (+5 s) for gunicorn's answer: a big proxied upload's
            # answer comes once all of it is in S3.
            "GUNICORN_TIMEOUT": str(REQUEST_TIMEOUT),
            "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
        }

    @staticmethod
    def _stack_env(env_file):
        """The endpoints and credentials `python -m localaws --env-file` wrote (NAME=value)."""
        with open(env_file) as lines:
            variables = dict(shlex.split(line)[0].split("=", 1) for line in lines if line.strip())
        return {name: value for name, value in variables.items() if name.startswith("AWS_")}

    def _spawn(self, name, command, env):
        log = open(os.path.join(self.work_dir, f"{name}.log"), "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
        log.close()
        self.processes.append(process)
        return process

    def manage(self, *args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=START_TIMEOUT)
        if result.returncode != 0:
            raise BenchError(f"manage.py {args[0]} failed: {result.stderr.strip()[-2000:]}")

    @property
    def url(self):
        return self.relay.url

    def node_log(self):
        path = os.path.join(self.work_dir, "node.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as log:
            return log.read()[-3000:]

    def cpu_seconds(self):
        """User + system seconds of the node's nginx and gunicorn trees, reaped children too."""
        total = 0.0
        for process in psutil.Process(self.node.pid).children(recursive=True):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def idle_cpu_seconds(self):
        """The node's CPU seconds once it has stopped working (it may still be cleaning up)."""
        deadline = time.monotonic() + IDLE_TIMEOUT
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(IDLE_LOOK)  # the interval the CPU time is compared over
            now = self.cpu_seconds()
            if now - before < IDLE_CPU_STEP:
                return now
            before = now
        return before

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if getattr(self, "run_dir", None):
            shutil.rmtree(self.run_dir, ignore_errors=True)


# -- measuring ---------------------------------------------------------------------------------
def make_file(directory, size):
    """A file of `size` random bytes (incompressible, as most uploads are)."""
    path = os.path.join(directory, f"bench-{size}.bin")
    with open(path, "wb") as file:
        left = size
        while left:
            block = os.urandom(min(left, 4 * 2**20))
            file.write(block)
            left -= len(block)
    return path


def warm_up(site, uploader, work_dir, ways, workers):
    """Upload WARM_UP_SIZES each way, `workers` times over; nothing is measured."""
    for size in WARM_UP_SIZES:
        path = make_file(work_dir, size)
        for _ in range(workers):
            for how in ways:
                uploader.delete(getattr(uploader, how)(path, f"warm-up-{how}"))
        os.unlink(path)


def median_figures(runs):
    """Each figure's median over `runs` (a list of `measure` results)."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure(site, uploader, how, path):
    """One upload `how` ("proxied" or "direct"): its figures."""
    size = os.path.getsize(path)
    name = f"{how}-{os.path.basename(path)}"
    # The previous upload's temporary files are written back now, not during this one.
    os.sync()
    cpu_before = site.idle_cpu_seconds()
    bytes_before = site.relay.totals.snapshot()
    retried_before = uploader.retried
    started = time.perf_counter()
    public_id = getattr(uploader, how)(path, name)
    seconds = time.perf_counter() - started
    retried = uploader.retried - retried_before
    bytes_after = site.relay.totals.snapshot()
    cpu = site.idle_cpu_seconds() - cpu_before
    uploader.delete(public_id)
    moved = {field: bytes_after[field] - bytes_before[field] for field in bytes_after}
    node_bytes = sum(moved[field] for field in ("request_head", "request_body",
                                                "response_head", "response_body", "unparsed"))
    return {"size": size, "seconds": seconds, "mb_per_second": size / seconds / 1e6,
            "node_bytes": node_bytes, **moved, "retried": retried,
            "cpu_seconds": cpu,
            "cpu_seconds_per_gb": cpu / (size / 1e9)}


ROWS = [
    ("wall time (s)", "seconds", "{:.2f}"),
    ("speed (MB/s)", "mb_per_second", "figure"),
    ("requests to the node", "requests", "{}"),
    ("  complete calls retried (503, 409)", "retried", "{}"),
    ("bytes through the node", "node_bytes", "{:,}"),
    ("  request heads", "request_head", "{:,}"),
    ("  request bodies", "request_body", "{:,}"),
    ("  response heads", "response_head", "{:,}"),
    ("  response bodies", "response_body", "{:,}"),
    ("node CPU (s)", "cpu_seconds", "{:.3f}"),
    ("node CPU per GB (s)", "cpu_seconds_per_gb", "figure"),
]
#: Rows with a direct/proxied ratio (the issue asks for these three).
RATIO_ROWS = {"mb_per_second", "node_bytes", "cpu_seconds_per_gb"}


def formatted(pattern, value):
    """`value` by `pattern`; "figure": three significant digits, thousands whole."""
    if pattern == "figure":
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return pattern.format(value)


def ratio(direct, proxied):
    if not proxied:
        return "-"
    value = direct / proxied
    return f"{value:.2g}" if value < 0.01 else f"{value:.2f}"


def table(results, file_sizes):
    """One markdown table: per size, proxied and direct side by side, with direct/proxied."""
    header = "| |" + "".join(f" {human(size)} proxied | direct | direct/proxied |"
                             for size in file_sizes)
    lines = [header, "|---|" + "---:|" * 3 * len(file_sizes)]
    for label, key, pattern in ROWS:
        cells = []
        for size in file_sizes:
            proxied, direct = (results.get((size, how)) for how in PATHS)
            cells += [formatted(pattern, proxied[key]) if proxied else "-",
                      formatted(pattern, direct[key]) if direct else "-",
                      ratio(direct[key], proxied[key]) if proxied and direct
                      and key in RATIO_ROWS else ""]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results, file_sizes):
    """Issue 11's targets for the direct path, each size apart: [(what, [(size, met, figure)])]."""
    sizes_run = [size for size in file_sizes
                 if (size, "proxied") in results and (size, "direct") in results]
    checks = {"bytes": [], "cpu": [], "speed": []}
    for size in sizes_run:
        proxied, direct = results[(size, "proxied")], results[(size, "direct")]
        bodies = direct["request_body"] + direct["response_body"]
        checks["bytes"].append((size, direct["node_bytes"] <= TARGET_NODE_BYTES,
                                f"{direct['node_bytes']:,} (bodies alone {bodies:,})"))
        # A clock tick (10 ms) is the finest CPU time the kernel reports per process.
        share = (direct["cpu_seconds"] / proxied["cpu_seconds"] if proxied["cpu_seconds"]
                 else float("inf"))
        checks["cpu"].append((size, share <= TARGET_CPU_SHARE,
                              f"{share:.1%} ({direct['cpu_seconds']:.2f} s vs "
                              f"{proxied['cpu_seconds']:.2f} s)"))
        speed = direct["mb_per_second"] / proxied["mb_per_second"]
        checks["speed"].append((size, speed >= TARGET_SPEED, f"{speed:.2f}x"))
    if not sizes_run:
        return []
    return [
        (f"direct moves <= {TARGET_NODE_BYTES:,} bytes through the node per file (both "
         "directions, heads and bodies)", checks["bytes"]),
        (f"direct uses <= {TARGET_CPU_SHARE:.0%} of the proxied path's node CPU per GB",
         checks["cpu"]),
        ("direct is at least as fast end to end (its speed / the proxied speed)",
         checks["speed"]),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=sizes, default=sizes(DEFAULT_SIZES),
                        help=f"file sizes, comma-separated (default: {DEFAULT_SIZES}; "
                             "KB/MB/GB are powers of 10, KiB/MiB/GiB of 2)")
    parser.add_argument("--only", choices=PATHS, help="upload one way only")
    parser.add_argument("--workers", type=int, default=2,
                        help="the node's gunicorn workers (default: 2, production's)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="uploads of each file each way; each figure is their median")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (the node's and the stack's logs)")
    args = parser.parse_args(argv)
    work_dir = tempfile.mkdtemp(prefix="stratus-bench-uploads-")
    site = Site(work_dir, max(args.sizes), args.workers)
    results = {}
    try:
        print(f"starting the local AWS stack and a web node ({work_dir}) ...", flush=True)
        site.start()
        uploader = Uploader(site.url, USERNAME, PASSWORD)
        ways = [args.only] if args.only else list(PATHS)
        print("warming the node up ...", flush=True)
        warm_up(site, uploader, work_dir, ways, args.workers)
        for size in args.sizes:
            path = make_file(work_dir, size)
            runs = {how: [] for how in ways}
            for _ in range(args.repeat):
                # Alternating, so that neither way always meets a machine warmer than the other.
                for how in ways:
                    print(f"{human(size)} {how} ...", end=" ", flush=True)
                    runs[how].append(measure(site, uploader, how, path))
                    print(f"{runs[how][-1]['seconds']:.2f} s", flush=True)
            for how in ways:
                results[(size, how)] = median_figures(runs[how])
            os.unlink(path)
    except (BenchError, requests.RequestException) as error:
        log = site.node_log()
        print(f"\nbench/uploads.py: {error}\n--- the node's log, last lines ---\n{log}",
              file=sys.stderr)
        return 2
    finally:
        site.stop()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print()
    print(f"Uploads through one web node (nginx + gunicorn, {args.workers} workers) vs "
          f"straight to S3 (moto), {os.cpu_count()} cores shared by all:")
    print()
    print(table(results, args.sizes))
    checks = targets(results, args.sizes)
    for what, per_size in checks:
        print(f"\n{what}:")
        for size, met, figure in per_size:
            print(f"  {'met   ' if met else 'MISSED'}  {human(size)}: {figure}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump([{"path": how, **figures} for (_, how), figures in results.items()],
                      file, indent=1)
    return 0 if all(met for _, per_size in checks for _, met, _ in per_size) else 1


if __name__ == "__main__":
    sys.exit(main())
