"""The processes that play instances: started by command, stopped or killed with their children.

Each instance is a command (a web node's `bin/start-node`, a worker's `sqs_worker`) run in a
session of its own, so that a Ctrl-C at the terminal reaches only whoever plays Auto Scaling,
which then stops the instances in the order production would. Each is also tied to the
process that started it (Linux's parent-death signal), so that nothing outlives a fleet that
was itself killed.
"""

import ctypes
import os
import signal
import subprocess

PR_SET_PDEATHSIG = 1


def _die_with_starter():
    # Runs in the child before exec. The signal is sent when the *thread* that started the
    # child exits, so instances are started only from the controller's own long-lived loop.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(command, *, cwd, env, log_path):
    """Run `command` (a list) in its own session, its output appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_starter)


def process_tree(pid):
    """`pid` and every process under it, parents first (Linux /proc)."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    found.extend(process_tree(int(child)))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def kill_tree(process, timeout=30):
    """SIGKILL the process and everything under it, as a machine dying would.

    All are stopped first, so that no master (nginx's, gunicorn's) sees a child die and
    starts another before it is killed itself.
    """
    tree = process_tree(process.pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in tree:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def signal_process(process, signum=signal.SIGTERM):
    """Send `signum` to the process alone (it stops its own children); False if it is gone."""
    if process.poll() is not None:
        return False
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        return False
    return True
