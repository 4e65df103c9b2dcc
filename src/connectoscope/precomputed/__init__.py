"""Neuroglancer precomputed formats, read and write: one home for every codec.

Arrays and tables in, files out, and back; nothing here knows a dataset, a ``Mesh`` or a
``Skeleton`` class (the layers adapt their objects to these arrays):

* sharding (``neuroglancer_uint64_sharded_v1``): MurmurHash3, compressed Morton codes,
  :func:`write_sharded` / :func:`read_sharded`;
* legacy meshes: :func:`encode_legacy_fragment`, :func:`write_legacy_meshes`,
  :func:`read_legacy_mesh`; segment properties: :func:`write_segment_properties`;
* multi-resolution meshes (``neuroglancer_multilod_draco``, sharded, Draco):
  :func:`encode_multires_mesh`, :func:`write_multires_meshes`, :func:`read_multires_mesh`;
* skeletons: :func:`encode_skeleton`, :func:`decode_skeleton`, :func:`write_skeletons`,
  :func:`write_skeletons_sharded` (a few shard files for a whole-volume set);
* annotations (``neuroglancer_annotations_v1``, sharded, with a spatial index):
  :func:`write_synapse_annotations`.

Reading any writer's layers, local or remote (paths, ``file://``, ``http(s)://``, ``gs://``,
``s3://``): :func:`read_mesh` (legacy and multi-resolution Draco meshes), :func:`read_skeleton`
and :func:`read_annotations` (a table), with :func:`mesh_info`, :func:`skeleton_layer_info`,
:func:`annotations_info`.

The specifications are Neuroglancer's ``src/datasource/precomputed/*.md``.
"""

from __future__ import annotations

from ._annotations import write_synapse_annotations, write_synapse_annotations_streaming
from ._layer import PrecomputedLayer, ShardedReader, open_layer
from ._mesh import (
    MeshLike,
    decode_legacy_fragment,
    encode_legacy_fragment,
    face_segments,
    read_legacy_mesh,
    write_legacy_meshes,
    write_segment_properties,
)
from ._multires import (
    MultiresManifest,
    cut_mesh_at_planes,
    decode_multires_manifest,
    decode_multires_mesh,
    encode_multires_mesh,
    multires_info,
    read_multires_mesh,
    write_multires_meshes,
)
from ._read_annotations import annotation_dtype, annotations_info, read_annotations
from ._read_mesh import MeshArrays, mesh_info, read_mesh
from ._read_skeleton import SkeletonArrays, read_skeleton, skeleton_layer_info
from ._sharding import (
    compressed_morton_code,
    list_sharded_keys,
    locate_sharded,
    murmurhash3_x86_128_uint64,
    read_sharded,
    shard_file_name,
    shard_of,
    sharding_spec,
    write_sharded,
)
from ._skeleton import (
    DEFAULT_VERTEX_ATTRIBUTES,
    decode_skeleton,
    encode_skeleton,
    segment_skeleton_keys,
    skeleton_info,
    write_skeletons,
)
from ._skeleton_sharded import write_skeletons_sharded

__all__ = [
    "DEFAULT_VERTEX_ATTRIBUTES",
    "MeshArrays",
    "MeshLike",
    "MultiresManifest",
    "PrecomputedLayer",
    "ShardedReader",
    "SkeletonArrays",
    "annotation_dtype",
    "annotations_info",
    "compressed_morton_code",
    "cut_mesh_at_planes",
    "decode_legacy_fragment",
    "decode_multires_manifest",
    "decode_multires_mesh",
    "decode_skeleton",
    "encode_legacy_fragment",
    "encode_multires_mesh",
    "encode_skeleton",
    "face_segments",
    "list_sharded_keys",
    "locate_sharded",
    "mesh_info",
    "multires_info",
    "murmurhash3_x86_128_uint64",
    "open_layer",
    "read_annotations",
    "read_legacy_mesh",
    "read_mesh",
    "read_multires_mesh",
    "read_sharded",
    "read_skeleton",
    "segment_skeleton_keys",
    "shard_file_name",
    "shard_of",
    "sharding_spec",
    "skeleton_info",
    "skeleton_layer_info",
    "write_legacy_meshes",
    "write_multires_meshes",
    "write_segment_properties",
    "write_sharded",
    "write_skeletons",
    "write_skeletons_sharded",
    "write_synapse_annotations",
    "write_synapse_annotations_streaming",
]
