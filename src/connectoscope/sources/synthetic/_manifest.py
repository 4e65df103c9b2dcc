"""``synth.json``: what a synthetic source folder holds (:class:`SynthManifest`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import DataFormatError, SourceNotFoundError

__all__ = ["GENERATOR_VERSION", "MANIFEST_NAME", "SynthManifest"]

GENERATOR_VERSION = "2"
MANIFEST_NAME = "synth.json"


@dataclass(frozen=True)
class SynthManifest:
    """Description of a generated folder; written as ``OUT/synth.json``.

    Attributes
    ----------
    shape_xyz : tuple of int
        Volume size in voxels ``(x, y, z)``.
    cube : int
        Cube edge in voxels; every cube file holds ``cube**3`` voxels.
    seed : int
        Random seed.
    voxel_size_nm : tuple of float
        Voxel size ``(x, y, z)`` in nm.
    cubes_present, cubes_missing : tuple of (i, j, k)
        Grid positions with / without files (``missing`` positions have neither a colour
        nor a segmentation file).
    counts : dict
        Objects per kind (``neuron``, ``axon``, ``dendrite``, ``spinehead``).
    segments_per_kind : dict
        Segment (supervoxel) ids per kind in the object maps.
    n_segments : int
        Distinct non-zero segment ids in the whole volume (glia included).
    n_glia_segments : int
        Of those, glia fill segments (in no object map; ids ``>= glia_first_id``).
    glia_first_id : int
        Smallest id used for glia fill.
    maximum_segment_id : int
        Largest id in the volume (object maps have this length + 1).
    n_synapses, n_spine_synapses, n_shaft_synapses, n_soma_synapses : int
        Synapse rows in ``synapses.parquet`` by target.
    n_cells, n_neurons : int
        Rows in ``cells.parquet``; cells with a soma in the volume.
    role : str
        ``"overview"`` (the main volume) or ``"fullres"`` (the full-resolution cube folder,
        whose ``shape_xyz`` is the whole volume at its voxel size, of which only
        ``cubes_present`` have files).
    fullres : dict
        In the overview's manifest: ``path`` (folder), ``voxel_size_nm``, ``cube``, ``grid``
        (cube position ``i, j, k``) and ``offset_vx`` (its first voxel) of the full-resolution
        cube; empty when none was written.
    connectome : dict
        ``path`` of the MICrONS-shaped connectome folder and its counts; empty when none.
    generator_version : str
        Version of the generator (same seed + version + shape = same bytes).
    """

    shape_xyz: tuple[int, int, int]
    cube: int
    seed: int
    voxel_size_nm: tuple[float, float, float]
    cubes_present: tuple[tuple[int, int, int], ...]
    cubes_missing: tuple[tuple[int, int, int], ...]
    counts: dict[str, int] = field(default_factory=dict)
    segments_per_kind: dict[str, int] = field(default_factory=dict)
    n_segments: int = 0
    n_glia_segments: int = 0
    glia_first_id: int = 0
    maximum_segment_id: int = 0
    n_synapses: int = 0
    n_spine_synapses: int = 0
    n_shaft_synapses: int = 0
    n_soma_synapses: int = 0
    n_cells: int = 0
    n_neurons: int = 0
    role: str = "overview"
    fullres: dict[str, Any] = field(default_factory=dict)
    connectome: dict[str, Any] = field(default_factory=dict)
    generator_version: str = GENERATOR_VERSION

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """Cube grid ``(nx, ny, nz)``."""
        s = self.shape_xyz
        return (s[0] // self.cube, s[1] // self.cube, s[2] // self.cube)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (lists instead of tuples)."""
        d = asdict(self)
        d["shape_xyz"] = list(self.shape_xyz)
        d["voxel_size_nm"] = list(self.voxel_size_nm)
        d["cubes_present"] = [list(c) for c in self.cubes_present]
        d["cubes_missing"] = [list(c) for c in self.cubes_missing]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthManifest:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                shape_xyz=tuple(int(v) for v in d["shape_xyz"]),  # type: ignore[arg-type]
                cube=int(d["cube"]),
                seed=int(d["seed"]),
                voxel_size_nm=tuple(float(v) for v in d["voxel_size_nm"]),  # type: ignore[arg-type]
                cubes_present=tuple(tuple(int(v) for v in c) for c in d["cubes_present"]),  # type: ignore[misc]
                cubes_missing=tuple(tuple(int(v) for v in c) for c in d["cubes_missing"]),  # type: ignore[misc]
                counts={str(k): int(v) for k, v in d.get("counts", {}).items()},
                segments_per_kind={
                    str(k): int(v) for k, v in d.get("segments_per_kind", {}).items()
                },
                n_segments=int(d.get("n_segments", 0)),
                n_glia_segments=int(d.get("n_glia_segments", 0)),
                glia_first_id=int(d.get("glia_first_id", 0)),
                maximum_segment_id=int(d.get("maximum_segment_id", 0)),
                n_synapses=int(d.get("n_synapses", 0)),
                n_spine_synapses=int(d.get("n_spine_synapses", 0)),
                n_shaft_synapses=int(d.get("n_shaft_synapses", 0)),
                n_soma_synapses=int(d.get("n_soma_synapses", 0)),
                n_cells=int(d.get("n_cells", 0)),
                n_neurons=int(d.get("n_neurons", 0)),
                role=str(d.get("role", "overview")),
                fullres=dict(d.get("fullres", {})),
                connectome=dict(d.get("connectome", {})),
                generator_version=str(d.get("generator_version", GENERATOR_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DataFormatError(f"synthetic manifest: missing or bad field ({e})") from e

    def write(self, out: str | Path) -> Path:
        """Write ``OUT/synth.json``; returns its path."""
        p = Path(out) / MANIFEST_NAME
        p.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return p

    @classmethod
    def read(cls, out: str | Path) -> SynthManifest:
        """Read ``OUT/synth.json`` (``out`` may also be the JSON file itself)."""
        p = Path(out)
        if p.is_dir():
            p = p / MANIFEST_NAME
        if not p.exists():
            raise SourceNotFoundError(
                f"{p}: no synthetic manifest; generate one with `connectoscope synth {p.parent}`"
            )
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise DataFormatError(f"{p}: not a readable JSON manifest ({e})") from e
        return cls.from_dict(d)
