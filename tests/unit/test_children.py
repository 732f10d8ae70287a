"""SIGTERM to paperlab reproduce / sweep stops the processes they started (experiments.children)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


def test_sigterm_stops_the_child_too(tmp_path):
    pidfile = tmp_path / "child.pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent = ("import sys; from experiments.children import run_child, stop_children_on_sigterm; "
              f"stop_children_on_sigterm(); run_child([sys.executable, '-c', {child!r}])")
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, "the child never started"
        time.sleep(0.1)
    child_pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):  # terminated and reaped, not left training on its own
        os.kill(child_pid, 0)
