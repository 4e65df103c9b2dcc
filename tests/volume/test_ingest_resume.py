import os
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import write_cubes
from connectoscope import Dataset


def _chunk_bytes(ds_path):
    root = ds_path / "volume.ome.zarr"
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and ".progress" not in f.parts:
            out[str(f.relative_to(root))] = f.read_bytes()
    return out


def test_kill_9_then_resume_is_byte_identical(tmp_path, rng):
    vol = np.kron(
        rng.integers(1, 1000, size=(8, 8, 8)).astype(np.uint32), np.ones((16, 16, 16), np.uint32)
    )
    src = write_cubes(tmp_path / "seg", vol, 64)
    cmd = [
        sys.executable,
        "-m",
        "connectoscope",
        "ingest",
        str(src),
        None,
        "--layer",
        "segmentation",
        "--voxel-size",
        "8,8,8",
        "--workers",
        "1",
        "--chunk",
        "32,32,32",
        "--shard",
        "64,64,64",
    ]
    ref = tmp_path / "ref.cscope"
    subprocess.run([*cmd[:5], str(ref), *cmd[6:]], check=True, capture_output=True)
    victim = tmp_path / "victim.cscope"
    env = dict(os.environ, CONNECTOSCOPE_SLOW_SHARD_S="0.3")
    p = subprocess.Popen(
        [*cmd[:5], str(victim), *cmd[6:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    progress = victim / "volume.ome.zarr" / ".progress" / "segmentation" / "0"
    deadline = time.time() + 60
    while time.time() < deadline:
        if progress.exists() and len(list(progress.iterdir())) >= 2:
            break
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done = len(list(progress.iterdir()))
    assert 2 <= done < 8, "the kill must land in the middle of level 0"
    # a half-written store is never reported complete
    assert Dataset(victim).layer("segmentation")["complete"] is False
    r = subprocess.run([*cmd[:5], str(victim), *cmd[6:]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Dataset(victim).layer("segmentation")["complete"] is True
    assert _chunk_bytes(victim) == _chunk_bytes(ref)
    np.testing.assert_array_equal(Dataset(victim).segmentation.read(), vol)
