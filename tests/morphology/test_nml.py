"""webKnossos NML: lossless round trips, root choice, skeleton conversion, bad input."""

import time

import numpy as np
import pytest
from hypothesis import given, settings

from connectoscope.errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError
from connectoscope.morphology import (
    NmlDocument,
    read_nml,
    read_skeleton,
    write_nml,
    write_skeleton,
)
from connectoscope.testing.strategies import skeleton_trees

NML = """<?xml version="1.0" encoding="UTF-8"?>
<things>
  <meta name="writer" content="webKnossos"/>
  <parameters>
    <experiment name="2012-09-28_ex145_07x2_ROI2017"/>
    <scale x="11.24" y="11.24" z="28.0"/>
    <offset x="0" y="0" z="0"/>
    <time ms="1500000000000"/>
    <editPosition x="10" y="20" z="30"/>
    <userBoundingBox id="1" name="box" topLeftX="0" topLeftY="0" topLeftZ="0" width="5" height="5" depth="5"/>
  </parameters>
  <thing id="1" color.r="0.1" color.g="0.2" color.b="0.3" color.a="1.0" name="cell 1" groupId="2">
    <nodes>
      <node id="1" radius="120.5" x="100" y="200" z="30" rotX="0.0" inVp="0" inMag="0" bitDepth="8" interpolation="false" time="1"/>
      <node id="2" radius="120.0" x="110" y="200" z="30"/>
      <node id="3" radius="120.0" x="120" y="210" z="31"/>
      <node id="4" radius="120.0" x="120" y="190" z="31.5"/>
    </nodes>
    <edges>
      <edge source="1" target="2"/>
      <edge source="3" target="2"/>
      <edge source="2" target="4"/>
    </edges>
    <metadata><metadataEntry key="cellType" stringValue="spiny stellate"/></metadata>
  </thing>
  <thing id="7" name="fragment" groupId="1">
    <nodes><node id="10" radius="1" x="5.5" y="6" z="7"/><node id="11" radius="1" x="6" y="6" z="7"/></nodes>
    <edges><edge source="10" target="11"/></edges>
  </thing>
  <thing id="9" name="empty"><nodes/><edges/></thing>
  <branchpoints><branchpoint id="2" time="5"/></branchpoints>
  <comments><comment node="3" content="Soma here"/><comment node="11" content="ending"/></comments>
  <groups><group id="1" name="cells"><group id="2" name="L4"/></group></groups>
</things>
"""


@pytest.fixture
def nml_file(tmp_path):
    p = tmp_path / "cell.nml"
    p.write_text(NML)
    return p


def test_nml_roundtrip_is_lossless(nml_file, tmp_path):
    doc = read_nml(nml_file)
    assert doc.scale_nm == (11.24, 11.24, 28.0)
    assert [t.id for t in doc.trees] == [1, 7, 9]
    assert doc.n_nodes == 6
    assert doc.comments[0] == {"node": "3", "content": "Soma here"}
    assert doc.groups[0].children[0].attrs == {"id": "2", "name": "L4"}
    assert doc.trees[0].nodes[0]["interpolation"] == "false"
    assert doc.trees[0].extra[0].children[0].attrs["stringValue"] == "spiny stellate"
    again = read_nml(write_nml(doc, tmp_path / "again.nml"))
    for attr in ("parameters", "trees", "branchpoints", "comments", "groups", "extra"):
        assert getattr(again, attr) == getattr(doc, attr), attr
    # and a second pass writes the same bytes
    a = (tmp_path / "again.nml").read_bytes()
    write_nml(again, tmp_path / "third.nml")
    assert (tmp_path / "third.nml").read_bytes() == a


def test_nml_to_skeleton_root_choice(nml_file):
    doc = read_nml(nml_file)
    sk = doc.to_skeleton(root="soma")
    # the tree commented "Soma here" is rooted at node 3; the fragment at its lowest id
    assert sorted(sk.node_ids[sk.roots].tolist()) == [3, 10]
    assert sk.features["compartment"][sk.vertex_of(np.array([3]))[0]] == 1
    np.testing.assert_allclose(
        sk.vertices[sk.vertex_of(np.array([4]))[0]], [120 * 11.24, 190 * 11.24, 31.5 * 28]
    )
    assert sk.features["radius"][sk.vertex_of(np.array([1]))[0]] == pytest.approx(120.5 * 11.24)
    assert set(sk.features["tree_id"].tolist()) == {1, 7}
    assert sk.meta["nml"]["root"] == {"requested": "soma", "node": 3}
    by_id = doc.to_skeleton(root=4)
    assert 4 in by_id.node_ids[by_id.roots].tolist()
    default = doc.to_skeleton()  # a soma comment exists: it is the default root
    assert sorted(default.node_ids[default.roots].tolist()) == [3, 10]
    doc.comments = [c for c in doc.comments if "Soma" not in c["content"]]
    plain = doc.to_skeleton()  # no soma comment: every piece from its lowest node id
    assert sorted(plain.node_ids[plain.roots].tolist()) == [1, 10]
    assert (plain.features["compartment"] == 0).all()
    with pytest.raises(InvalidParameterError, match="no comment matches 'axon'"):
        doc.to_skeleton(root="axon")
    with pytest.raises(InvalidParameterError, match="root node 99 does not exist"):
        doc.to_skeleton(root=99)


def test_nml_skeleton_nml_keeps_trees_comments_groups(nml_file, tmp_path):
    sk = read_skeleton(nml_file, root="soma")
    out = write_skeleton(sk, tmp_path / "out.nml")
    doc = read_nml(out)
    orig = read_nml(nml_file)
    assert doc.scale_nm == orig.scale_nm
    assert doc.comments == orig.comments and doc.branchpoints == orig.branchpoints
    assert doc.groups == orig.groups
    assert [t.attrs for t in doc.trees] == [t.attrs for t in orig.trees[:2]]
    back = doc.to_skeleton(root="soma")
    np.testing.assert_array_equal(back.node_ids, sk.node_ids)
    np.testing.assert_array_equal(back.parent, sk.parent)
    np.testing.assert_allclose(back.vertices, sk.vertices, rtol=1e-12)

    # the same undirected edges as the original file
    def edges(d):
        return {frozenset(map(int, e)) for t in d.trees for e in t.edges}

    assert edges(doc) == edges(orig)


@settings(max_examples=30)
@given(skeleton_trees())
def test_property_skeleton_nml_roundtrip(tmp_path_factory, sk):
    p = tmp_path_factory.mktemp("nml") / "s.nml"
    write_nml(sk, p, scale_nm=(0.5, 0.5, 0.5))
    doc = read_nml(p)
    back = doc.to_skeleton()
    # roots are chosen as the lowest id of each piece: compare as undirected trees
    a = {
        frozenset((int(sk.node_ids[i]), int(sk.node_ids[sk.parent[i]])))
        for i in np.flatnonzero(sk.parent >= 0)
    }
    b = {
        frozenset((int(back.node_ids[i]), int(back.node_ids[back.parent[i]])))
        for i in np.flatnonzero(back.parent >= 0)
    }
    assert a == b
    order = np.argsort(sk.node_ids)
    border = np.argsort(back.node_ids)
    np.testing.assert_array_equal(back.vertices[border], sk.vertices[order])
    np.testing.assert_array_equal(back.features["radius"][border], sk.features["radius"][order])
    # NML -> NML is exact, text for text
    q = p.with_name("t.nml")
    write_nml(doc, q)
    assert read_nml(q).trees == doc.trees


def test_nml_unknown_elements(tmp_path):
    p = tmp_path / "u.nml"
    p.write_text(NML.replace("<branchpoints>", "<strange a='1'/><branchpoints>"))
    with pytest.raises(
        DataFormatError, match=r"unknown element <strange> inside <things>.*unknown='keep'"
    ):
        read_nml(p)
    kept = read_nml(p, unknown="keep")
    assert kept.extra[-1].tag == "strange"
    assert read_nml(write_nml(kept, tmp_path / "k.nml"), unknown="keep").extra[-1].attrs == {
        "a": "1"
    }
    with pytest.warns(ConnectoscopeWarning, match="unknown element <strange>"):
        dropped = read_nml(p, unknown="warn")
    assert all(x.tag != "strange" for x in dropped.extra)
    q = tmp_path / "n.nml"
    q.write_text(NML.replace('<node id="2"', '<vertex id="99"/><node id="2"'))
    with pytest.raises(DataFormatError, match=r"unknown element <vertex> inside <nodes>"):
        read_nml(q)
    r = tmp_path / "r.nml"
    r.write_text("<skeleton/>")
    with pytest.raises(DataFormatError, match="root element is <skeleton>, expected <things>"):
        read_nml(r)


def test_nml_entity_bomb_rejected_fast(tmp_path):
    bomb = ['<?xml version="1.0"?>', "<!DOCTYPE things [", '<!ENTITY a0 "lol">']
    for i in range(1, 30):
        bomb.append(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">')
    bomb += ["]>", "<things><comments><comment node='1' content='&a29;'/></comments></things>"]
    p = tmp_path / "bomb.nml"
    p.write_text("\n".join(bomb))
    t0 = time.perf_counter()
    with pytest.raises(DataFormatError, match="refused: the XML declares entities"):
        read_nml(p)
    assert time.perf_counter() - t0 < 1.0
    ext = tmp_path / "ext.nml"
    ext.write_text(
        '<?xml version="1.0"?><!DOCTYPE things [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<things><comments><comment node='1' content='&x;'/></comments></things>"
    )
    with pytest.raises(DataFormatError, match="refused"):
        read_nml(ext)


def test_nml_bad_trees(tmp_path):
    def write(text):
        p = tmp_path / "b.nml"
        p.write_text(text)
        return p

    cyc = NML.replace(
        '<edge source="2" target="4"/>',
        '<edge source="2" target="4"/><edge source="4" target="1"/>',
    )
    with pytest.raises(DataFormatError, match="1 cycle"):
        read_nml(write(cyc)).to_skeleton()
    dup = NML.replace('<node id="10"', '<node id="1"').replace('source="10"', 'source="1"')
    with pytest.raises(DataFormatError, match="duplicate node ids 1"):
        read_nml(write(dup)).to_skeleton()
    dangling = NML.replace('<edge source="10" target="11"/>', '<edge source="10" target="12"/>')
    with pytest.raises(DataFormatError, match="edge 10 - 12 names a node that does not exist"):
        read_nml(write(dangling)).to_skeleton()
    noscale = NML.replace('<scale x="11.24" y="11.24" z="28.0"/>', "")
    with pytest.raises(DataFormatError, match="no <scale>.*scale_nm"):
        read_nml(write(noscale)).to_skeleton()
    assert read_nml(write(noscale)).to_skeleton(scale_nm=(2, 2, 2)).vertices.max() == 420
    with pytest.raises(DataFormatError, match="not well-formed XML"):
        read_nml(write("<things><thing></things>"))
    assert isinstance(NmlDocument().trees, list)
