"""The demo's typed state, shared by its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DemoContext", "DemoOutput"]


@dataclass
class DemoOutput:
    """One thing the demo made: a file or folder, what it is, which step made it, and the
    command that makes it again (shown on the report page)."""

    path: Path
    description: str
    step: str
    picture: bool = False
    command: str = ""
    tutorial: int | None = None  # the MICrONS tutorial figure it reproduces


@dataclass
class DemoContext:
    """State shared by the demo steps.

    Attributes
    ----------
    out : Path
        The demo's output folder (everything goes inside).
    shape_xyz : (x, y, z) int
        Size of the synthetic volume in voxels.
    cube : int
        Cube edge of the synthetic source files.
    seed : int
        Random seed of the synthetic data.
    workers : int
        Workers parallel steps may use.
    outputs : list of DemoOutput
        Everything made so far.
    notes : list of str
        Short facts to print (counts, timings), in order.
    next_steps : list of str
        Commands to suggest at the end.
    synth_manifest : SynthManifest or None
        What the synthetic generator wrote (set by the first step).
    cmap, cmap_image : Path or None
        The ChimeraX maps (set by the ingest step, rewritten with attributes later).
    current_step : str
        Title of the step running now.
    """

    out: Path
    shape_xyz: tuple[int, int, int] = (512, 512, 256)
    cube: int = 256
    seed: int = 0
    workers: int = 2
    outputs: list[DemoOutput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    synth_manifest: Any = None
    cmap: Path | None = None
    cmap_image: Path | None = None
    current_step: str = ""

    @property
    def synth_dir(self) -> Path:
        """The synthetic L4dense-style source folder (``out / "source"``)."""
        return self.out / "source"

    @property
    def dataset_path(self) -> Path:
        """The dataset directory (``out / "demo.cscope"``)."""
        return self.out / "demo.cscope"

    @property
    def figures(self) -> Path:
        """The pictures folder (created on first use)."""
        p = self.out / "figures"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def add(
        self,
        path: Path | str,
        description: str,
        *,
        picture: bool | None = None,
        command: str = "",
        tutorial: int | None = None,
    ) -> Path:
        """Record an output (pictures: ``.png``/``.gif``/``.svg``/``.jpg``/``.mp4`` are shown
        on the report page; ``tutorial``: the MICrONS tutorial figure it reproduces, listed in
        the report's table of tutorial figures); returns ``path``."""
        p = Path(path)
        if picture is None:
            picture = p.suffix.lower() in (".png", ".gif", ".svg", ".jpg", ".mp4")
        self.outputs.append(
            DemoOutput(p, description, self.current_step, picture, command, tutorial)
        )
        return p

    def note(self, text: str) -> None:
        """Record a short fact to print."""
        self.notes.append(f"[{self.current_step}] {text}")
