import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.errors import InvalidParameterError
from connectoscope.export import export_chimerax, write_cxc
from connectoscope.volume import write_layer


def test_cmap_layout_with_pytables_and_h5py(tmp_path, rng):
    import h5py
    import tables

    ds = cs.Dataset.create(tmp_path / "c.cscope", voxel_size=(11.24, 11.24, 28))
    labels = np.kron(
        rng.integers(0, 30, (4, 8, 8)).astype(np.uint32), np.ones((16, 16, 16), np.uint32)
    )
    lay = write_layer(ds, "segmentation", labels, kind="segmentation")
    ds.folder("objects", create=True)
    pd.DataFrame(
        {
            "segment_id": np.array([3, 5, 29], np.uint32),
            "kind": ["neuron", "neuron", "axon"],
            "object_id": [1, 1, 2],
        }
    ).to_parquet(ds.path / "objects" / "segment_objects.parquet")
    factors = [lev.factor_xyz for lev in lay.levels[1:]]
    out = export_chimerax(ds, tmp_path / "seg.cmap", subsamples=factors[:2])
    with tables.open_file(str(out)) as f:
        g = f.root.Chimera.image1
        assert g._v_attrs.chimera_map_version == 1
        np.testing.assert_allclose(g._v_attrs.step, [11.24, 11.24, 28], rtol=1e-6)
        assert g._v_attrs.step.dtype == np.float32 and g._v_attrs.origin.dtype == np.float32
        np.testing.assert_array_equal(g.data_zyx.read(), labels)
        for i, fac in enumerate(factors[:2], start=1):
            d = getattr(g, "data_zyx_{}_{}_{}".format(*fac))
            assert list(d.attrs.subsample_spacing) == list(fac)
            assert d.attrs.subsample_spacing.dtype == np.int32
            np.testing.assert_array_equal(d.read(), lay.read(level=i))
        neuron = f.root.attributes.neuron.read()
        assert neuron.dtype == np.int32 and len(neuron) == 30
        assert neuron[3] == 1 and neuron[5] == 1 and neuron[4] == 0
        assert f.root.attributes.axon.read()[29] == 2
    with h5py.File(out, "r") as f:
        d = f["Chimera/image1/data_zyx"]
        assert "32001" in str(d._filters) or 32001 in d._filters  # Blosc
        assert f["attributes"].attrs["maximum_segment_id"] == 29
    with pytest.raises(InvalidParameterError, match="available"):
        export_chimerax(ds, tmp_path / "x.cmap", subsamples=[(3, 3, 3)])
    assert not (tmp_path / "x.cmap").exists() and not (tmp_path / ".x.cmap.part").exists()
    cxc = write_cxc(
        tmp_path / "s.cxc",
        segmentation=str(out),
        image=str(tmp_path / "img.cmap"),
        kinds=["neuron", "spinehead", "axon", "dendrite"],
    )
    text = cxc.read_text()
    for cmd in (
        "seg surf #1 each neuron",
        "seg surf #1 where neuron=1 color yellow",
        "seg color #1 red surf #2 by spinehead",
        "seg color #2 lime map #1 by axon",
        "volume #1 level 95,0 level 120,0.9 level 234,1",
    ):
        assert cmd in text
