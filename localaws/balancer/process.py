"""HAProxy as a child process: its configuration rendered into a run directory, then run."""

import os
import shutil
import subprocess
import time

from localaws.balancer.config import BalancerConfig
from localaws.balancer.runtime import BalancerError, RuntimeAPI

#: Seconds HAProxy has to open its port and runtime socket.
START_TIMEOUT = 15.0


def haproxy_binary():
    """HAProxy's path (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK)
                                         else None)
    if not found:
        raise BalancerError("HAProxy is not installed: run bin/install-system-packages haproxy")
    return found


class Balancer:
    """One HAProxy process in the foreground of its own child, stopped by `stop()`.

    Its configuration and runtime socket live in `config.run_dir` (created if missing), its
    output in `balancer.log` there.
    """

    def __init__(self, config: BalancerConfig):
        self.config = config
        self.runtime = RuntimeAPI(config.socket_path)
        self.process = None

    @property
    def url(self):
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def log_path(self):
        return os.path.join(self.config.run_dir, "balancer.log")

    def check(self):
        """Render the configuration and have HAProxy validate it (`haproxy -c`)."""
        self._write_config()
        result = subprocess.run([haproxy_binary(), "-c", "-q", "-f", self.config.config_path],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise BalancerError(f"HAProxy refused its configuration: {result.stderr.strip()}")

    def start(self, timeout=START_TIMEOUT):
        """Start HAProxy and return once its runtime API answers."""
        self.check()
        with open(self.log_path, "ab") as log:
            # -db: stay in the foreground, so this process is HAProxy and a signal reaches it.
            self.process = subprocess.Popen(
                [haproxy_binary(), "-db", "-f", self.config.config_path],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise BalancerError(f"HAProxy exited at start: {self._log_tail()}")
            if os.path.exists(self.config.socket_path):
                try:
                    self.runtime.command("show info")
                    return self
                except BalancerError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise BalancerError(f"HAProxy did not open its runtime API within {timeout} s")
            time.sleep(0.02)  # polling a starting process, not waiting for an event we own

    def stop(self, timeout=10.0):
        """Stop HAProxy (SIGTERM: at once, as the ALB going away would)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def _write_config(self):
        os.makedirs(self.config.run_dir, exist_ok=True)
        with open(self.config.config_path, "w", encoding="utf-8") as config:
            config.write(self.config.render())
        # A socket left by a killed run would make the wait above answer for a dead process.
        if os.path.exists(self.config.socket_path):
            os.unlink(self.config.socket_path)

    def _log_tail(self, limit=2000):
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(log.tell() - limit, 0))
                return log.read().decode("utf-8", errors="replace").strip()
        except OSError:
            return "(no log)"
