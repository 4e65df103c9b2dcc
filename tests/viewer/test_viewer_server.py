import json
import os
import urllib.error
import urllib.request

import numpy as np
import pytest

import connectoscope as cs
from connectoscope.viewer import ViewerServer, client_dir, viewer_state


def test_bundled_neuroglancer_client_is_installed():
    d = client_dir()
    assert (d / "index.html").is_file()
    assert list(d.glob("main.*.js")), "the neuroglancer wheel must ship its compiled client"


def _get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), b""


def test_server_range_cors_and_security(tmp_path):
    ds = tmp_path / "d.cscope"
    ds.mkdir()
    (ds / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (ds / "sub").mkdir()
    (ds / "sub" / "x.json").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, ds / "link.txt")
    with ViewerServer(ds) as srv:
        assert srv.httpd.server_address[0] == "127.0.0.1"
        st, h, body = _get(f"{srv.url}/data/blob.bin", {"Origin": "http://127.0.0.1:9"})
        assert st == 200 and len(body) == 1024
        assert h["Access-Control-Allow-Origin"] == "http://127.0.0.1:9"
        assert h["Accept-Ranges"] == "bytes"
        st, h, body = _get(f"{srv.url}/data/blob.bin", {"Range": "bytes=10-19"})
        assert (
            st == 206 and body == bytes(range(10, 20)) and h["Content-Range"] == "bytes 10-19/1024"
        )
        st, h, body = _get(f"{srv.url}/data/blob.bin", {"Range": "bytes=-4"})
        assert st == 206 and body == bytes(range(252, 256))
        st, _, _ = _get(f"{srv.url}/data/blob.bin", {"Range": "bytes=5000-"})
        assert st == 416
        for bad in (
            "/data/../secret.txt",
            "/data/%2e%2e/secret.txt",
            "/data/sub/../../secret.txt",
            "/data//etc/passwd",
            "/data/link.txt",
            "/data/sub",
            "/data/",
            "/../../etc/passwd",
        ):
            st, _, body = _get(srv.url + bad)
            assert st == 404 and b"do not serve" not in body, bad
        st, _, body = _get(f"{srv.url}/index.html")
        assert st == 200 and b"neuroglancer" in body


def test_state_layers(tmp_path):
    from connectoscope.segmentation import ObjectMaps, Selection
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "s.cscope", voxel_size=(4, 4, 40))
    lab = np.zeros((4, 64, 64), np.uint32)
    lab[:, :20, :20] = 5
    write_layer(d, "segmentation", lab, kind="segmentation")
    write_layer(d, "image", np.full(lab.shape, 9, np.uint8), kind="image")
    ObjectMaps.from_arrays({"neuron": np.array([0, 0, 0, 0, 0, 1])}).save(d)
    st = viewer_state(d, "http://127.0.0.1:1/data", selection=Selection.parse(["neuron=1"]))
    names = [la["name"] for la in st["layers"]]
    assert names == ["em", "segmentation"]
    assert st["layers"][0]["source"] == "zarr3://http://127.0.0.1:1/data/volume.ome.zarr/"
    assert st["layers"][1]["segments"] == ["5"]
    assert st["dimensions"]["z"] == [pytest.approx(40e-9), "m"]
    json.dumps(st)


def test_state_cli_data_url_and_annotation_layer(tmp_path, capsys):
    import pandas as pd

    from connectoscope.cli import main
    from connectoscope.connectome import SynapseTable
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "a.cscope", voxel_size=(4, 4, 40))
    write_layer(d, "segmentation", np.ones((2, 16, 16), np.uint32), kind="segmentation")
    syn = pd.DataFrame(
        {"pre": [1, 1], "post": [1, 1], "x_nm": [1.0, 9.0], "y_nm": [2.0, 3.0], "z_nm": [0, 40.0]}
    )
    SynapseTable(syn).save(d)
    assert main(["view", str(d.path), "--state", "--no-annotations"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert [la["type"] for la in st["layers"]] == ["segmentation"]
    assert main(["view", str(d.path), "--state", "--data-url", "https://example.org/a"]) == 0
    st = json.loads(capsys.readouterr().out)
    ann = st["layers"][-1]
    assert ann["source"] == "precomputed://https://example.org/a/annotations/synapses"
    assert ann["linkedSegmentationLayer"] == {
        "pre_segment": "segmentation",
        "post_segment": "segmentation",
    }
    assert "filterBySegmentation" not in ann and "shader" not in ann  # no selection, no size
    assert st["layers"][0]["source"][0].startswith("zarr3://https://example.org/a/")
