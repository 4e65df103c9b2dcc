import subprocess
import sys


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "demo",
            "--out",
            str(out),
            "--shape",
            "256,256,128",
            "--cube",
            "128",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "connectoscope demo finished" in r.stdout
    for f in (
        "index.html",
        "demo.cscope/connectoscope.json",
        "segmentation.cmap",
        "seed_commands.cxc",
        "figures/neurons_each.png",
        "figures/plane_z64.png",
        "figures/connectome_logsum_by_type.png",
    ):
        assert (out / f).exists(), f
    page = (out / "index.html").read_text()
    assert "<img" in page and "connectoscope view" in page
    assert '<a href="figures/neurons_each.png">' in page  # full size on click
    assert "[1/7] synthetic data" in r.stdout and "[7/7] viewer" in r.stdout
    # every one of the MICrONS tutorial's 12 figures is named on the page and made
    import re

    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>(.*?)</td></tr>", page)
    assert [int(k) for k, _ in rows] == list(range(1, 13))
    missing = [k for k, cell in rows if "not made" in cell]
    assert missing == [], f"tutorial figures not made: {missing}"
    for _, cell in rows:
        for href in re.findall(r'href="([^"]+)"', cell):
            assert (out / href).is_file(), href
    # and a screenshot of the viewer (CI installs Chromium; elsewhere the demo says why not)
    from connectoscope.errors import DependencyMissingError
    from connectoscope.viewer import find_chromium

    try:
        find_chromium()
        import playwright  # noqa: F401
    except (DependencyMissingError, ImportError):
        assert "viewer screenshot skipped" in r.stdout
    else:
        assert (out / "figures/viewer.png").is_file(), r.stdout[-2000:]
        assert '<a href="figures/viewer.png">' in page
    # a second run refuses to replace the old output, --force replaces it
    again = subprocess.run(
        [sys.executable, "-m", "connectoscope", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "--force" in again.stderr, again.stderr
    assert (out / "index.html").read_text() == page
