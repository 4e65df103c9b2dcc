"""Case 9 of issue 16: after kill -9 of the parent, its worker processes end within seconds
(parent-death signal on Linux, and the polling fallback alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PARENT = textwrap.dedent(
    """
    import os, sys, time
    mode = sys.argv[1]
    if __name__ == "__main__":
        if mode == "pool":
            from connectoscope.parallel import _warm_pool
            pool = _warm_pool(2)
        else:
            import concurrent.futures as cf, multiprocessing as mp
            from connectoscope._workers import watch_parent
            pool = cf.ProcessPoolExecutor(
                2, mp_context=mp.get_context("spawn"), initializer=watch_parent,
                initargs=(os.getpid(), 0.3, False),
            )
        pids = set()
        while len(pids) < 2:
            pids |= {f.result() for f in [pool.submit(os.getpid) for _ in range(4)]}
        busy = [pool.submit(time.sleep, 600) for _ in range(2)]  # workers busy, parent waits
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(600)
    """
)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("mode", ["pool", "polling-only"])
def test_workers_die_with_their_parent(tmp_path, mode):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.Popen(
        [sys.executable, str(script), mode], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        line = p.stdout.readline()
        pids = [int(x) for x in line.split()]
        assert len(pids) == 2 and all(_alive(q) for q in pids), line
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(q) for q in pids):
            time.sleep(0.1)
        left = [q for q in pids if _alive(q)]
        assert left == [], f"workers still alive 5 s after kill -9 of their parent: {left}"
    finally:
        if p.poll() is None:
            p.kill()
        for q in pids if "pids" in locals() else []:
            if _alive(q):
                os.kill(q, signal.SIGKILL)


def test_watch_in_a_live_parent_does_not_kill_workers():
    """A worker spawned from a short-lived thread survives that thread's end (the death
    signal is checked against the real parent)."""
    import threading

    from connectoscope._workers import process_pool

    pool = process_pool(1)
    out = {}

    def spawn():
        out["pid"] = pool.submit(os.getpid).result()

    t = threading.Thread(target=spawn)
    t.start()
    t.join()
    time.sleep(1.0)  # the spawning thread is gone; the kernel sent SIGUSR2
    assert pool.submit(os.getpid).result(timeout=30) == out["pid"]
    pool.shutdown()
