"""Case 1 of issue 16: every file name from outside (URL path, Content-Disposition, registry
entry, archive member) is reduced to a safe base name or refused; nothing is written outside
the destination folder."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile

import pytest
from reliability_helpers import AnyPathServer, files_under

from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.fetch import (
    content_disposition_filename,
    extract_archive,
    fetch,
    fetch_url,
    load_registry,
    safe_basename,
    safe_relpath,
    safe_target,
)

#: URL tails that try to leave the folder or name something unsafe; each must either land
#: inside the folder under a plain name or be refused.
HOSTILE_URL_TAILS = [
    "x/..%2F..%2Fvictim.cfg",  # the issue's case: encoded ../
    "x/..%252F..%252Fvictim.cfg",  # double-encoded
    "%2Ftmp%2Fabs.cfg",  # encoded absolute
    "%2F%2Fhost%2Fshare%2Fx",  # UNC-like
    "x/..%5C..%5Cwin.cfg",  # encoded backslashes
    "x/C:%5Cwindows%5Cwin.ini",
    "x/a%00b.bin",  # NUL
    "x/%0Aline.bin",  # newline
    "x/" + "a" * 300,  # over-long
    "x/CON",
    "x/nul.txt",
    "x/com1.csv",
    "x/LPT9",
    "x/trailing.",
    "x/..",
    "x/%2E%2E",
    "x/.",
]


@pytest.mark.parametrize("tail", HOSTILE_URL_TAILS)
def test_hostile_url_names_stay_inside_or_are_refused(tmp_path, tail):
    outside = tmp_path / "outside"
    to = outside / "dir"
    to.mkdir(parents=True)
    with AnyPathServer(b"evil") as srv:
        try:
            got = fetch_url(f"{srv.url}/{tail}", to)
        except InvalidParameterError as e:
            assert "refused" in str(e) or "names no file" in str(e)
            assert files_under(outside) == set()
            return
    # reduced to a base name inside the folder
    assert got.parent == to.resolve()
    assert files_under(outside) == {f"dir/{got.name}"}
    assert got.read_bytes() == b"evil"


def test_issue_case_1_cli_encoded_dotdot_does_not_overwrite_a_file_outside(tmp_path, capsys):
    victim = tmp_path / "victim.cfg"
    victim.write_text("keep me")
    (tmp_path / "a" / "dir").mkdir(parents=True)
    with AnyPathServer(b"evil") as srv:
        rc = main(["fetch", f"{srv.url}/x/..%2F..%2Fvictim.cfg", "--to", str(tmp_path / "a/dir")])
    assert rc == 0
    assert victim.read_text() == "keep me"
    assert (tmp_path / "a/dir/victim.cfg").read_bytes() == b"evil"
    # an encoded absolute path lands in the folder too, never at the absolute path
    target = tmp_path / "abs-victim.cfg"
    target.write_text("keep me")
    enc = str(target).replace("/", "%2F")
    with AnyPathServer(b"evil") as srv:
        rc = main(["fetch", f"{srv.url}/{enc}", "--to", str(tmp_path / "a/dir")])
    assert rc == 0 and target.read_text() == "keep me"
    assert (tmp_path / "a/dir/abs-victim.cfg").read_bytes() == b"evil"


@pytest.mark.parametrize(
    "header,expected",
    [
        ('attachment; filename="report.csv"', "report.csv"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ("attachment; filename=..%2F..%2Fx.cfg", "x.cfg"),
        ("attachment; filename*=UTF-8''%2E%2E%2Fevil%2Ftarget.h5", "target.h5"),
        ('attachment; filename="C:\\\\Windows\\\\system.ini"', "system.ini"),
        ("inline", None),
        ('attachment; filename="a\\x00b"', "refused"),
        ('attachment; filename="CON"', "refused"),
        ('attachment; filename=".."', "refused"),
    ],
)
def test_content_disposition_names(header, expected):
    if expected == "refused":
        with pytest.raises(InvalidParameterError, match="refused"):
            content_disposition_filename(header.replace("\\x00", "\x00"))
    else:
        assert content_disposition_filename(header) == expected


def test_url_without_a_name_uses_a_safe_content_disposition(tmp_path):
    to = tmp_path / "dir"
    with AnyPathServer(b"abc", disposition='attachment; filename="../../escape.txt"') as srv:
        got = fetch_url(f"{srv.url}/download/", to)
    assert got == (to / "escape.txt").resolve() and got.read_bytes() == b"abc"
    assert files_under(tmp_path) == {"dir/escape.txt"}
    with AnyPathServer(b"abc", disposition='attachment; filename="NUL"') as srv:
        with pytest.raises(InvalidParameterError, match="reserved"):
            fetch_url(f"{srv.url}/download/", to)


@pytest.mark.parametrize(
    "name",
    [
        "../escape.bin",
        "a/../../escape.bin",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%2Fescape.bin",
        "a\\..\\escape.bin",
        "C:/x.bin",
        "ok/\x00.bin",
        "ok/" + "b" * 256,
        "ok/aux.h5",
    ],
)
def test_hostile_registry_names_are_refused(tmp_path, name):
    reg = {
        "format": 1,
        "datasets": {
            "evil": {
                "description": "t",
                "files": [{"name": name, "url": "http://127.0.0.1:9/x", "md5": "0" * 32}],
            }
        },
    }
    (tmp_path / "reg.json").write_text(json.dumps(reg))
    rep = fetch("evil", tmp_path / "to", registry=load_registry(tmp_path / "reg.json"))
    assert rep.missing == [name] and "refused" in rep.failed[name]
    assert files_under(tmp_path) == {"reg.json"}


def test_symlinked_folder_or_file_in_the_way_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    to = tmp_path / "to"
    (to / "ds").mkdir(parents=True)
    os.symlink(elsewhere, to / "ds" / "em")
    with pytest.raises(InvalidParameterError, match="outside"):
        safe_target(to / "ds", "em/x.h5")
    victim = tmp_path / "victim.cfg"
    victim.write_text("keep")
    os.symlink(victim, to / "planted.cfg")
    os.symlink(victim, to / "planted2.cfg.part")
    with AnyPathServer(b"evil") as srv:
        with pytest.raises(InvalidParameterError, match="symbolic link"):
            fetch_url(f"{srv.url}/planted.cfg", to)
        with pytest.raises(InvalidParameterError, match="symbolic link"):
            fetch_url(f"{srv.url}/planted2.cfg", to)
    assert victim.read_text() == "keep"
    # a registry dataset whose sub-folder is a link out of the dataset folder
    reg = {
        "format": 1,
        "datasets": {
            "ds": {
                "description": "t",
                "files": [{"name": "em/x.h5", "url": "http://127.0.0.1:9/x", "md5": "0" * 32}],
            }
        },
    }
    (tmp_path / "reg.json").write_text(json.dumps(reg))
    rep = fetch("ds", to, registry=load_registry(tmp_path / "reg.json"))
    assert "outside" in rep.failed["em/x.h5"] and not list(elsewhere.iterdir())


def test_safe_names_pass_unchanged():
    assert safe_basename("x2y4z3.hdf5") == "x2y4z3.hdf5"
    assert safe_basename("my%20file.csv") == "my file.csv"
    assert safe_relpath("em/x1y1z1.hdf5") == "em/x1y1z1.hdf5"
    assert safe_relpath("./em//x.h5") == "em/x.h5"
    assert safe_basename(".zattrs") == ".zattrs"


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members, link=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            t.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize(
    "bad", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "a\\..\\evil.txt", "a/\x01.txt"]
)
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_archive_members_that_leave_the_folder_are_refused_before_anything_is_written(
    tmp_path, bad, kind
):
    members = [("good.txt", b"ok"), (bad, b"evil")]
    data = _zip(members) if kind == "zip" else _tar(members)
    arc = tmp_path / f"a.{kind}"
    arc.write_bytes(data)
    with pytest.raises(InvalidParameterError, match="refused"):
        extract_archive(arc, tmp_path / "out")
    assert files_under(tmp_path) == {f"a.{kind}"}


def test_archive_symlink_members_are_refused_and_good_archives_extract(tmp_path):
    arc = tmp_path / "l.tar.gz"
    arc.write_bytes(_tar([("a.txt", b"a")], link=("link", "/etc/passwd")))
    with pytest.raises(InvalidParameterError, match="link"):
        extract_archive(arc, tmp_path / "out")
    good = tmp_path / "g.zip"
    good.write_bytes(_zip([("d/a.txt", b"a"), ("b.txt", b"bb")]))
    got = extract_archive(good, tmp_path / "out2")
    assert [p.relative_to(tmp_path / "out2").as_posix() for p in got] == ["d/a.txt", "b.txt"]
    assert (tmp_path / "out2/b.txt").read_bytes() == b"bb"


def test_cli_fetch_extract(tmp_path, capsys):
    with AnyPathServer(_zip([("ok.txt", b"1"), ("../x.txt", b"2")])) as srv:
        rc = main(["fetch", f"{srv.url}/a.zip", "--extract", "--to", str(tmp_path / "d")])
    assert rc == 2 and "refused" in capsys.readouterr().err
    assert files_under(tmp_path) == {"d/a.zip"}
