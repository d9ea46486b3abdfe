"""Serving like production: Odoo runs from a real file (its prefork re-execution of
``sys.argv[0]`` must start the gevent worker), and the prefork options reach Odoo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from devtools import demo  # noqa: E402
from devtools.odoo import LAUNCHER, prefork_args  # noqa: E402

# A stand-in ``odoo`` package: like Odoo's, it drops a leading "gevent" argument at import
# (its evented mode), and its ``cli.main`` prints what it was given.
FAKE_ODOO_INIT = """
import sys
evented = len(sys.argv) > 1 and sys.argv[1] == "gevent"
if evented:
    sys.argv.remove("gevent")
from . import cli
"""
FAKE_ODOO_CLI = """
import os, sys
import odoo
def main():
    print("evented" if odoo.evented else "plain", os.environ["TZ"], *sys.argv[1:])
"""


@pytest.fixture
def fake_odoo(tmp_path: Path) -> dict:
    (tmp_path / "odoo").mkdir()
    (tmp_path / "odoo" / "__init__.py").write_text(FAKE_ODOO_INIT)
    (tmp_path / "odoo" / "cli.py").write_text(FAKE_ODOO_CLI)
    return dict(os.environ, PYTHONPATH=str(tmp_path))


def test_odoo_runs_from_a_file_that_prefork_can_run_again(fake_odoo: dict) -> None:
    """What Odoo's prefork master runs for its gevent worker: the same file, plus 'gevent'."""
    assert LAUNCHER.is_file()
    out = subprocess.run(
        [sys.executable, str(LAUNCHER), "gevent", "server", "-c", "x.conf"],
        env=fake_odoo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.split() == ["evented", "UTC", "server", "-c", "x.conf"]


def test_a_python_c_launch_cannot_be_run_again(fake_odoo: dict) -> None:
    """Twin: the old ``python -c`` launch, re-executed the same way, dies (gevent is run as
    code), which is why the gevent worker never started with workers."""
    res = subprocess.run(
        [sys.executable, "-c", "gevent", "server"], env=fake_odoo, capture_output=True, text=True
    )
    assert res.returncode != 0 and "NameError" in res.stderr


def test_the_launcher_does_not_import_from_its_own_folder(fake_odoo: dict, tmp_path: Path) -> None:
    """The tools next to the launcher (dev.py...) never shadow a module Odoo imports."""
    shadow = LAUNCHER.parent / "odoo.py"
    assert not shadow.exists()
    probe = "import sys; print(repr(sys.path[0]))"
    (tmp_path / "odoo" / "cli.py").write_text(f"def main():\n    {probe}\n")
    out = subprocess.run(
        [sys.executable, str(LAUNCHER)], env=fake_odoo, capture_output=True, text=True, check=True
    ).stdout
    assert str(LAUNCHER.parent) not in out


def test_prefork_options() -> None:
    assert prefork_args(0, 8072) == []
    assert prefork_args(4, 8072) == [
        "--workers", "4", "--max-cron-threads", "1", "--gevent-port", "8072",
    ]  # fmt: skip


# A stand-in for Odoo's server: answers on --http-port and prints its arguments.
FAKE_SERVER = """
import socket, sys
args = sys.argv[1:]
host, port = args[args.index("--http-interface") + 1], int(args[args.index("--http-port") + 1])
print("args", *args, file=sys.stderr)
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen()
    s.settimeout(20)
    s.accept()[0].close()
"""


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_with_workers_serves_prefork_with_its_gevent_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "HTTP_INTERFACE", "127.0.0.1")
    gevent = _free()
    monkeypatch.setattr(demo, "DEMO_GEVENT_PORT", gevent)
    shown: list[tuple] = []
    port = _free()
    argv = [sys.executable, "-c", FAKE_SERVER]
    assert demo.serve(argv, {}, port, lambda *a: shown.append(a), workers=3) == 0
    assert shown == [(port, gevent)]
    err = capsys.readouterr().err
    assert f"--workers 3 --max-cron-threads 1 --gevent-port {gevent}" in err


def test_demo_without_workers_stays_threaded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twin: no workers, no prefork options."""
    monkeypatch.setattr(demo, "HTTP_INTERFACE", "127.0.0.1")
    shown: list[tuple] = []
    port = _free()
    argv = [sys.executable, "-c", FAKE_SERVER]
    assert demo.serve(argv, {}, port, lambda *a: shown.append(a)) == 0
    assert shown == [(port,)]
    assert "--workers" not in capsys.readouterr().err
