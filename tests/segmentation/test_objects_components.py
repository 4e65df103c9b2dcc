import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.segmentation import ObjectMaps, count_components
from connectoscope.volume import write_layer


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_blockwise_equals_whole(rng, connectivity):
    import cc3d

    lab = rng.integers(0, 5, (18, 33, 27)).astype(np.uint32)
    whole = count_components(lab, connectivity=connectivity)
    blocks = count_components(lab, connectivity=connectivity, block_zyx=(5, 8, 7))
    pd.testing.assert_frame_equal(whole, blocks)
    # second oracle: cc3d per label, one label at a time
    for seg_id, n in zip(whole["segment_id"], whole["components"]):
        _, m = cc3d.connected_components(lab == seg_id, connectivity=connectivity, return_N=True)
        assert n == m


def test_diagonal_blocks_join_only_with_26():
    lab = np.zeros((2, 4, 4), np.uint8)
    lab[0, 1, 1] = lab[1, 2, 2] = 3  # corner neighbours in blocks meeting only at a corner
    b = (1, 2, 2)
    assert count_components(lab, connectivity=26, block_zyx=b)["components"].tolist() == [1]
    assert count_components(lab, connectivity=18, block_zyx=b)["components"].tolist() == [2]
    assert count_components(lab, connectivity=6, block_zyx=b)["components"].tolist() == [2]
    with pytest.raises(InvalidParameterError, match="6, 18 or 26"):
        count_components(lab, connectivity=8)


def test_stats_cli_components(tmp_path, capsys):
    ds = cs.Dataset.create(tmp_path / "c.cscope", voxel_size=(4, 4, 40))
    lab = np.zeros((8, 64, 900), np.uint32)
    lab[2:6, 10:20, 10:890] = 7  # one piece crossing shard borders
    lab[2:6, 40:50, 10:20] = 8
    lab[2:6, 40:50, 600:610] = 8  # two pieces
    write_layer(ds, "segmentation", lab, kind="segmentation", pyramid=False)
    ObjectMaps.from_arrays({"neuron": np.array([0] * 7 + [1, 1])}).save(ds)
    assert len(ds.segmentation.levels[0].shard_boxes()) > 1
    argv = ["objects", "stats", str(ds.path), "--components", "--connectivity", "6"]
    assert main([*argv, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "connected pieces (6-connectivity): 3; segments in more than one piece: 1" in out
    seg = pd.read_parquet(ds.path / "objects" / "segments.parquet").set_index("segment_id")
    assert seg.loc[7, "components"] == 1 and seg.loc[8, "components"] == 2


def test_centroids_in_dataset_nm_with_offset_and_level(tmp_path):
    from connectoscope.segmentation import segment_table

    ds = cs.Dataset.create(tmp_path / "o.cscope", voxel_size=(4, 4, 40), offset_vx=(100, 0, 7))
    lab = np.zeros((4, 256, 256), np.uint32)
    lab[1:3, 10:12, 20:24] = 5
    write_layer(ds, "segmentation", lab, kind="segmentation")
    t0 = segment_table(ds, workers=1).set_index("segment_id")
    assert t0.loc[5, "centroid_x_nm"] == pytest.approx((100 + 21.5) * 4)
    assert t0.loc[5, "centroid_z_nm"] == pytest.approx((7 + 1.5) * 40)
    # level 1 (2 x 2 x 1): voxel (0, 0, 0) is centred half a base voxel further in x and y
    t1 = segment_table(ds, level=1, workers=1).set_index("segment_id")
    assert t1.loc[5, "centroid_x_nm"] == pytest.approx(100 * 4 + 10.5 * 8 + 2)
    assert t1.loc[5, "centroid_z_nm"] == pytest.approx(t0.loc[5, "centroid_z_nm"])
