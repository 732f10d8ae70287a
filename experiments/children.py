"""Child processes that stop with their parent: ``paperlab reproduce`` runs ``paperlab sweep``, which runs trials.

Ctrl-C in a terminal reaches the whole process group, but ``kill PID`` (SIGTERM, what a scheduler or
a wrapper script sends) reaches only the one process; its children would go on training and writing
into run folders that a restarted reproduce or sweep then starts again. ``stop_children_on_sigterm``
makes SIGTERM terminate every child started with ``run_child`` and then exit (status 143), so a
killed sweep records its running trials as failed and a restart runs them again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any

_live: set[subprocess.Popen] = set()
_lock = threading.Lock()
_terminated = False


def run_child(cmd: list[str], **popen: Any) -> int:
    """``subprocess.run(cmd, **popen).returncode``, with the child known to the SIGTERM handler."""
    with subprocess.Popen(cmd, **popen) as proc:
        with _lock:
            _live.add(proc)
        try:
            return proc.wait()
        finally:
            with _lock:
                _live.discard(proc)


def _terminate(signum: int, _frame: object) -> None:
    """Pass the signal on and exit; leaving ``run_child`` waits for the child to end (a second
    SIGTERM kills the children outright). No waiting here: the interrupted ``wait`` holds its lock."""
    global _terminated
    with _lock:
        children = list(_live)
    for proc in children:
        if _terminated:
            proc.kill()
        else:
            proc.terminate()  # each level does the same for its own children
    _terminated = True
    sys.exit(128 + signum)


def stop_children_on_sigterm() -> None:
    """Install the handler (main thread only, as ``signal`` requires)."""
    signal.signal(signal.SIGTERM, _terminate)
