"""The load bench's CPU figures: a process tree's CPU time is read from /proc, children included."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from contact_center.loadtest.cli import TARGET_REQUESTS_PER_S, _left_for_platform, _process_tree_cpu

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

_PARENT_OF_A_BUSY_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_the_cpu_of_a_process_tree_counts_its_busy_child() -> None:
    parent = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _PARENT_OF_A_BUSY_CHILD], stdout=subprocess.PIPE, text=True
    )
    child = None
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        before = _process_tree_cpu(parent.pid)
        assert before is not None
        # The parent sleeps, so what the tree spends is the child's spinning; on a shared machine it may get little
        # of a core, hence a deadline rather than a fixed pause.
        deadline = time.monotonic() + 30
        spent = 0.0
        while spent < 0.3 and time.monotonic() < deadline:
            time.sleep(0.2)
            after = _process_tree_cpu(parent.pid)
            assert after is not None
            spent = after - before
        assert spent >= 0.3
    finally:
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_no_process_no_figure() -> None:
    assert _process_tree_cpu(None) is None


def test_what_the_target_leaves_the_platform_is_the_machines_cpu_per_request_less_a_do_nothing_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # Four contacts in five requests: 1,000 contacts a second are 1,250 requests, 1.6 ms of 2 cores each.
    assert TARGET_REQUESTS_PER_S == 1250
    assert _left_for_platform({"client_ms_per_request": 0.9, "server_ms_per_request": 0.3}) == pytest.approx(0.4)
    # A client and a trivial server dearer than the machine's share: nothing is left, and the figure says so.
    assert _left_for_platform({"client_ms_per_request": 1.5, "server_ms_per_request": 0.5}) == pytest.approx(-0.4)
    assert _left_for_platform({"client_ms_per_request": 1.5, "server_ms_per_request": None}) is None
