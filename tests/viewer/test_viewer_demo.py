import json

import numpy as np
import pandas as pd

import connectoscope as cs
from connectoscope.connectome import SynapseTable
from connectoscope.demo import DemoContext
from connectoscope.demo.step_viewer import demo_step
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer


def test_viewer_demo_step_writes_annotations_and_prints_view(tmp_path):
    ctx = DemoContext(out=tmp_path)
    ds = cs.Dataset.create(ctx.dataset_path, voxel_size=(8, 8, 8))
    lab = np.zeros((8, 32, 32), np.uint32)
    lab[:, :16] = 1
    lab[:, 16:] = 2
    write_layer(ds, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 2])}).save(ds)
    rng = np.random.default_rng(0)
    syn = pd.DataFrame(
        {
            "pre": [2**60 + 1] * 50,
            "post": [2**60 + 2] * 50,
            "pre_segment_id": 1,
            "post_segment_id": 2,
            "size": rng.integers(1, 100, 50),
            "x_nm": rng.uniform(0, 256, 50),
            "y_nm": rng.uniform(0, 256, 50),
            "z_nm": rng.uniform(0, 64, 50),
        }
    )
    SynapseTable(syn).save(ds)
    demo_step(ctx)
    info = json.loads((ds.path / "annotations/synapses/info").read_text())
    assert info["@type"] == "neuroglancer_annotations_v1"
    assert any("50 synapses as annotations" in n for n in ctx.notes)
    assert any("synapses" in n and "layers ready" in n for n in ctx.notes)
    assert any(s.startswith(f"connectoscope view {ds.path}") for s in ctx.next_steps)
    assert cs.Dataset(ds.path).provenance[-1]["step"] == "annotations"
