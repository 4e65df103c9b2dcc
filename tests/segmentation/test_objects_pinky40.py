import numpy as np

from connectoscope.geometry import LevelFrame, VoxelSize
from connectoscope.segmentation import block_statistics
from connectoscope.segmentation._tables import _finish, _merge
from connectoscope.testing import load_pinky40, reference


def test_block_merged_table_matches_reference():
    """Per-segment counts and boxes from 8 blocks merge exactly to the whole-volume figures."""
    ref = reference("pinky40")["mip2_16x16x40_xyz_uint32.npz"]
    vol = load_pinky40("mip2")
    parts = []
    for z in (0, 256):
        for y in (0, 256):
            for x in (0, 256):
                parts.append(
                    block_statistics(vol[z : z + 256, y : y + 256, x : x + 256], (x, y, z))
                )
    table = _finish(_merge(parts), LevelFrame(VoxelSize(16, 16, 40))).set_index("segment_id")
    assert len(table) == ref["n_labels_nonzero"]
    assert int(table["voxels"].sum()) == vol.size - ref["voxels_label_0"]
    for label, count in ref["top5_labels_by_voxels"]:
        assert table.loc[label, "voxels"] == count
        start, stop = ref["top5_bbox_xyz_start_stop"][str(label)]
        assert table.loc[label, ["x0", "y0", "z0"]].tolist() == start
        assert table.loc[label, ["x1", "y1", "z1"]].tolist() == stop
    # centroid of the largest label equals a direct computation
    lab = ref["top5_labels_by_voxels"][0][0]
    zz, _yy, xx = np.nonzero(vol == lab)
    assert abs(table.loc[lab, "centroid_x_nm"] - xx.mean() * 16) < 1e-6
    assert abs(table.loc[lab, "centroid_z_nm"] - zz.mean() * 40) < 1e-6


def test_block_merged_components_match_reference():
    """Connected pieces from 64 blocks, merged across borders, equal the reference counts."""
    from connectoscope.segmentation import count_components

    ref = reference("pinky40")["mip2_16x16x40_xyz_uint32.npz"]
    vol = load_pinky40("mip2")
    c6 = count_components(vol, connectivity=6, block_zyx=(128, 128, 128))
    assert len(c6) == ref["n_labels_nonzero"]
    assert int(c6["components"].sum()) == ref["connected_components_nonzero_6conn"]
    assert int((c6["components"] > 1).sum()) == ref["labels_with_more_than_one_6conn_component"]
    c26 = count_components(vol, connectivity=26, block_zyx=(128, 128, 128))
    assert int(c26["components"].sum()) == ref["connected_components_nonzero_26conn"]
