"""Igneous's path to sharded multi-resolution meshes, timed (run by bench_surfaces.py in a
Python that has ``igneous-pipeline``; GPL, benchmark only).

    $IGNEOUS_PYTHON benchmarks/_igneous_multires.py LABELS.npy WORKDIR

LABELS.npy is ``[z, y, x]`` uint labels at 16 x 16 x 40 nm. Writes a precomputed volume in
WORKDIR, runs the meshing tasks (sharded fragments, max simplification error 40 nm) and the
sharded multires merge tasks (3 LODs) on a local 2-process queue, and prints the seconds of
the two task stages (the volume upload is not timed) as the last line.
"""

import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import igneous.task_creation as tc
    from cloudvolume import CloudVolume
    from taskqueue import LocalTaskQueue

    vol = np.load(sys.argv[1])
    work = Path(sys.argv[2]).resolve()
    path = f"file://{work}/seg"
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="segmentation",
        data_type=str(vol.dtype),
        encoding="raw",
        resolution=[16, 16, 40],
        voxel_offset=[0, 0, 0],
        chunk_size=[64, 64, 64],
        volume_size=list(vol.shape[::-1]),
    )
    cv = CloudVolume(path, info=info, compress=False)
    cv.commit_info()
    cv[:, :, :] = vol.T[..., None]
    tq = LocalTaskQueue(parallel=2, progress=False)
    t0 = time.perf_counter()
    tq.insert(
        tc.create_meshing_tasks(
            path, mip=0, shape=(256, 256, 256), sharded=True, max_simplification_error=40
        )
    )
    tq.execute(progress=False)
    tq.insert(tc.create_sharded_multires_mesh_tasks(path, num_lod=2, progress=False))
    tq.execute(progress=False)
    print(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
