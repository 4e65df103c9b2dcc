import h5py
import numpy as np
import pytest


def write_cubes(folder, volume_zyx, edge, *, skip=()):
    """Write a [z, y, x] array as L4dense cubes x{i}y{j}z{k}.hdf5 (skipping grid positions)."""
    folder.mkdir(parents=True, exist_ok=True)
    nz, ny, nx = (s // edge for s in volume_zyx.shape)
    for k in range(nz):
        for j in range(ny):
            for i in range(nx):
                if (i, j, k) in skip:
                    continue
                with h5py.File(folder / f"x{i}y{j}z{k}.hdf5", "w") as f:
                    f["data"] = volume_zyx[
                        k * edge : (k + 1) * edge,
                        j * edge : (j + 1) * edge,
                        i * edge : (i + 1) * edge,
                    ]
    return folder


@pytest.fixture
def small_labels(rng):
    """A blocky 64x96x128 [z, y, x] uint32 label volume with ids above 2**31."""
    coarse = rng.integers(0, 50, size=(8, 12, 16)).astype(np.uint32) * np.uint32(40_000_000)
    return np.kron(coarse, np.ones((8, 8, 8), np.uint32))


@pytest.fixture
def small_image(rng):
    base = rng.integers(0, 256, size=(64, 96, 128)).astype(np.uint8)
    return base
