"""Conformance: our stores read by tensorstore, zarr-python and zarr-python with the zarrs
codec pipeline; our precomputed outputs decoded by our readers and by reference readers
(Neuroglancer's Python AnnotationReader, cloud-volume for volumes: see
test_export_precomputed.py and test_read_layers.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ts

from connectoscope import Dataset
from connectoscope.testing import load_pinky40
from connectoscope.volume import StorageSpec, ingest

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("conf")
    seg = np.ascontiguousarray(load_pinky40("crop")[:32, :192, :160])
    np.save(root / "s.npy", seg)
    rep = ingest(root / "s.npy", root / "d.cscope", layer="segmentation", voxel_size=(16, 16, 40),
                 storage=StorageSpec(shard_xyz=(128, 128, 32)))  # fmt: skip
    return Dataset(rep.path)


def _levels(store):
    vol = store.volume("segmentation")
    rel = store.layer("segmentation")["path"]
    for li in range(vol.num_levels):
        yield li, store.path / rel / str(li), vol.read(level=li)


def test_tensorstore_reads_every_level(store):
    for _li, path, want in _levels(store):
        t = ts.open({"driver": "zarr3", "kvstore": f"file://{path}/"}).result()
        assert int((t.read().result() != want).sum()) == 0


def test_zarr_python_reads_every_level(store):
    zarr = pytest.importorskip("zarr")
    for _li, path, want in _levels(store):
        a = zarr.open_array(str(path), mode="r")
        assert a.shape == want.shape and int((a[...] != want).sum()) == 0


def test_zarrs_codec_pipeline_reads_every_level(store):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("zarrs")
    with zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"}):
        for _li, path, want in _levels(store):
            a = zarr.open_array(str(path), mode="r")
            assert int((a[...] != want).sum()) == 0
            # a box across shard borders
            assert int((a[3:30, 100:150, 90:140] != want[3:30, 100:150, 90:140]).sum()) == 0
