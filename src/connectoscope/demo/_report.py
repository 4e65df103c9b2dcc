"""The demo's report page, ``index.html``: sections per step, links to every file,
full-size pictures on click, the movies embedded, and the command behind each picture."""

from __future__ import annotations

import html
from pathlib import Path

from .._atomic import write_text_atomic
from ._context import DemoContext, DemoOutput

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0} .sub{color:#555;margin-top:.3em}
nav a{margin-right:1em} section{border-top:1px solid #ddd;margin-top:2em}
figure{display:inline-block;vertical-align:top;margin:10px;max-width:560px}
figure img,figure video{max-width:100%;border:1px solid #ccc;background:#fff}
figcaption{font-size:.9em} figcaption code{font-size:.85em;color:#444;display:block;margin-top:.3em}
table{border-collapse:collapse} td{padding:3px 8px;vertical-align:top;border-bottom:1px solid #eee}
ul.facts li{margin:.2em 0}
"""


def _rel(ctx: DemoContext, p: Path) -> str:
    return str(p.relative_to(ctx.out)) if p.is_relative_to(ctx.out) else str(p)


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def _figure(ctx: DemoContext, o: DemoOutput) -> str:
    rel = html.escape(_rel(ctx, o.path))
    cmd = f"<code>{html.escape(o.command)}</code>" if o.command else ""
    if o.path.suffix.lower() == ".mp4":
        media = f'<video src="{rel}" controls loop muted></video>'
    else:
        media = f'<a href="{rel}"><img src="{rel}" alt="{html.escape(o.description)}"></a>'
    fig = f"Tutorial figure {o.tutorial}: " if o.tutorial else ""
    return (
        f"<figure>{media}<figcaption>{fig}{html.escape(o.description)} "
        f'(<a href="{rel}">{rel}</a>){cmd}</figcaption></figure>'
    )


#: The MICrONS connectomics tutorial's figures, by number.
TUTORIAL_FIGURES = {
    1: "soma positions, top and side views",
    2: "binary connectivity matrix",
    3: "synapses per connection",
    4: "synapses per connection, E -> E vs I -> E",
    5: "summed synapse size, linear and log",
    6: "log summed-size matrix",
    7: "matrix sorted by cell type, with side bars",
    8: "skeleton by compartment",
    9: "inputs and outputs on the skeleton",
    10: "inputs and outputs from and to known cells",
    11: "synapse targets: spine, shaft, soma",
    12: "dendrite only, coloured by distance to the soma",
}


def _tutorial_table(ctx: DemoContext) -> str:
    """One row per tutorial figure: the picture that reproduces it, or 'not made'."""
    rows = []
    for k, what in TUTORIAL_FIGURES.items():
        made = [o for o in ctx.outputs if o.tutorial == k]
        cell = (
            ", ".join(
                f'<a href="{html.escape(_rel(ctx, o.path))}">{html.escape(_rel(ctx, o.path))}</a>'
                for o in made
            )
            if made
            else "<em>not made in this run</em>"
        )
        rows.append(f"<tr><td>{k}</td><td>{html.escape(what)}</td><td>{cell}</td></tr>")
    return (
        '<section id="tutorial"><h2>The MICrONS tutorial\'s figures</h2>'
        f"<table><tr><th>figure</th><th>what</th><th>here</th></tr>{''.join(rows)}</table>"
        "</section>"
    )


def write_report(ctx: DemoContext, timings: list[tuple[str, float]], total: float) -> Path:
    """Write ``index.html`` into the demo folder; returns its path."""
    sections = []
    for title, seconds in timings:
        outs = [o for o in ctx.outputs if o.step == title]
        notes = [n for n in ctx.notes if n.startswith(f"[{title}]")]
        pics = "".join(_figure(ctx, o) for o in outs if o.picture)
        files = "".join(
            f'<tr><td><a href="{html.escape(_rel(ctx, o.path))}"><code>'
            f"{html.escape(_rel(ctx, o.path))}</code></a></td><td>{html.escape(o.description)}"
            "</td></tr>"
            for o in outs
            if not o.picture
        )
        facts = "".join(f"<li>{html.escape(n.split('] ', 1)[-1])}</li>" for n in notes)
        sections.append(
            f'<section id="{_anchor(title)}"><h2>{html.escape(title)} '
            f"<small>({seconds:.1f} s)</small></h2>"
            + (f'<ul class="facts">{facts}</ul>' if facts else "")
            + (f"<div>{pics}</div>" if pics else "")
            + (f"<table>{files}</table>" if files else "")
            + "</section>"
        )
    nav = '<a href="#tutorial">tutorial figures</a>' + "".join(
        f'<a href="#{_anchor(t)}">{html.escape(t)}</a>' for t, _ in timings
    )
    nxt = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in ctx.next_steps)
    sx, sy, sz = ctx.shape_xyz
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>connectoscope demo</title>
<style>{_CSS}</style></head><body>
<h1>connectoscope demo</h1>
<p class="sub">Synthetic L4dense-style cortex, {sx} x {sy} x {sz} voxels (cubes of {ctx.cube},
seed {ctx.seed}); every step of the pipeline, finished in {total:.0f} s. Click a picture for
full size; the command under it makes it again.</p>
<nav>{nav}</nav>
{_tutorial_table(ctx)}
{"".join(sections)}
<section id="next"><h2>Next</h2><ul>{nxt}</ul></section>
</body></html>
"""
    return write_text_atomic(ctx.out / "index.html", page)
