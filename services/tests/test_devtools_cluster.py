"""The demo's private PostgreSQL cluster starts every time (``scripts/devtools/cluster.py``).

Real PostgreSQL clusters in temporary state folders: a port taken between the free-port check
and the start, and the half-made ``.state/`` an interrupted first run leaves (no ``odoo`` role,
passwords that differ from ``pg.json``, a ``pg.json`` whose cluster was never made, a cluster
whose ``pg.json`` is gone). Each is repaired with one line said, and no database is lost.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
if str(_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(_SCRIPTS))

from devtools.cluster import Cluster, port_is_free  # noqa: E402
from devtools.common import DevError  # noqa: E402


def _cleanup(cluster: Cluster, state: Path) -> None:
    """Stop the cluster and remove its state and data folders."""
    if cluster.meta.get("datadir"):
        cluster.stop()
        shutil.rmtree(Path(cluster.meta["datadir"]).parent, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def state() -> Iterator[Path]:
    """An empty state folder, its cluster stopped and removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="meddev-state-"))
    yield path
    if (path / "pg.json").exists():
        _cleanup(Cluster(path), path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def good() -> Iterator[Cluster]:
    """One healthy running cluster, holding a database ``keepme``; each test that breaks it
    repairs it."""
    path = Path(tempfile.mkdtemp(prefix="meddev-state-"))
    cluster = Cluster(path)
    cluster.ensure()
    cluster.sql("CREATE DATABASE keepme")
    yield cluster
    _cleanup(Cluster(path), path)


def _odoo_login(cluster: Cluster) -> None:
    """Log in as Odoo's role with the password of ``pg.json`` (raises when refused)."""
    meta = json.loads(cluster.meta_file.read_text())
    psycopg2.connect(
        host="127.0.0.1",
        port=meta["port"],
        dbname="postgres",
        user=meta["odoo_user"],
        password=meta["odoo_password"],
    ).close()


def test_healthy_cluster_is_reused_without_remarks(
    good: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    again = Cluster(good.state)
    again.ensure()
    out = capsys.readouterr().out
    assert "missing" not in out and "resetting" not in out and "never" not in out
    assert again.db_exists("keepme")
    _odoo_login(again)


def test_missing_odoo_role_is_created(good: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    good.sql("DROP ROLE odoo")
    with pytest.raises(psycopg2.OperationalError):
        _odoo_login(good)
    Cluster(good.state).ensure()
    assert "the role 'odoo' was missing" in capsys.readouterr().out
    _odoo_login(good)
    assert good.db_exists("keepme")


def test_odoo_password_mismatch_is_repaired(
    good: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    good.sql("ALTER ROLE odoo PASSWORD 'not-the-one-in-pg-json'")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _odoo_login(good)
    Cluster(good.state).ensure()
    assert "had another password" in capsys.readouterr().out
    _odoo_login(good)


def test_superuser_password_mismatch_is_reset_keeping_databases(
    good: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    good.sql("ALTER ROLE pgadmin PASSWORD 'lost'")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        good.sql("SELECT 1")
    repaired = Cluster(good.state)
    repaired.ensure()
    assert "superuser password did not match" in capsys.readouterr().out
    assert repaired.db_exists("keepme")
    good.meta = repaired.meta  # the module's cluster is still the same one


def test_taken_port_moves_the_cluster_to_the_next_one(
    good: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    good.stop()
    port = int(good.meta["port"])
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old one is in TIME_WAIT
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        assert not port_is_free(port)
        moved = Cluster(good.state)
        moved.ensure()
    finally:
        blocker.close()
    out = capsys.readouterr().out
    assert f"port {port} was taken" in out
    assert moved.meta["port"] != port
    assert json.loads(moved.meta_file.read_text())["port"] == moved.meta["port"]
    assert (
        f"port = {moved.meta['port']}"
        in (Path(moved.meta["datadir"]) / "postgresql.conf").read_text()
    )
    assert moved.db_exists("keepme")
    _odoo_login(moved)
    good.meta = moved.meta


def test_other_start_failure_is_reported_not_retried(good: Cluster) -> None:
    good.stop()
    conf = Path(good.meta["datadir"]) / "postgresql.conf"
    text = conf.read_text()
    port = good.meta["port"]
    conf.write_text(text + "\nshared_buffers = 'not a size'\n")
    try:
        with pytest.raises(DevError, match="PostgreSQL did not start"):
            Cluster(good.state).start()
        assert json.loads(good.meta_file.read_text())["port"] == port
    finally:
        conf.write_text(text)
    Cluster(good.state).ensure()


def test_pg_json_of_a_cluster_never_made_is_rebuilt(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Cluster(state)
    first.init()
    datadir = Path(first.meta["datadir"])
    shutil.rmtree(datadir)  # as an initdb that never ran
    rebuilt = Cluster(state)
    rebuilt.ensure()
    assert "was never made" in capsys.readouterr().out
    assert (datadir / "PG_VERSION").exists()
    _odoo_login(rebuilt)


def test_unreadable_pg_json_is_rebuilt(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state.mkdir(exist_ok=True)
    (state / "pg.json").write_text('{"datadir": ')  # cut off while being written
    cluster = Cluster(state)
    cluster.ensure()
    assert "unreadable or incomplete" in capsys.readouterr().out
    _odoo_login(cluster)


def test_cluster_without_pg_json_is_kept_with_its_databases(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Cluster(state)
    first.ensure()
    first.sql("CREATE DATABASE keepme")
    first.stop()
    (state / "pg.json").unlink()
    adopted = Cluster(state)
    adopted.ensure()
    out = capsys.readouterr().out
    assert "keeping it and its databases" in out
    assert adopted.meta["datadir"] == first.meta["datadir"]
    assert adopted.meta["superuser_password"] != first.meta["superuser_password"]
    assert adopted.db_exists("keepme")
    _odoo_login(adopted)
