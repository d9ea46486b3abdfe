"""Finding Odoo 18.0 (or fetching it), and the command line that runs it on our cluster."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .cluster import Cluster
from .common import CACHE, MODULE, ROOT, STATE, DevError, say

ODOO_GIT = os.environ.get("MEDDEV_ODOO_GIT", "https://github.com/odoo/odoo.git")
ODOO_CACHE = CACHE / "odoo-18.0"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) ")


def find_odoo() -> tuple[Path | None, str]:
    """Return (odoo_root, how) where odoo_root holds the ``odoo`` package, or (None, reason)."""
    env_path = os.environ.get("ODOO_PATH")
    if env_path:
        p = Path(env_path).expanduser().resolve()
        for cand in (p, p.parent):
            if (cand / "odoo" / "release.py").exists():
                return check_odoo_version(cand, "ODOO_PATH")
        return None, f"ODOO_PATH={env_path} holds no odoo package"
    probe = subprocess.run(
        [sys.executable, "-c", "import odoo, os; print(os.path.dirname(odoo.__path__[0]))"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if probe.returncode == 0 and probe.stdout.strip():
        return check_odoo_version(Path(probe.stdout.strip().splitlines()[-1]), "import odoo")
    if (ODOO_CACHE / "odoo" / "release.py").exists():
        return check_odoo_version(ODOO_CACHE, "cache")
    return None, (
        f"ODOO_PATH is unset, {sys.executable} cannot import odoo, and {ODOO_CACHE} is empty"
    )


def check_odoo_version(root: Path, how: str) -> tuple[Path | None, str]:
    text = (root / "odoo" / "release.py").read_text()
    m = re.search(r"version_info = \((\d+), (\d+)", text)
    if not m or (m.group(1), m.group(2)) != ("18", "0"):
        return None, f"the Odoo at {root} ({how}) is not 18.0"
    return root, how


def fetch_odoo() -> Path:
    """Get Odoo 18.0 the usual way: a shallow clone of the official source, branch 18.0."""
    if not shutil.which("git"):
        raise DevError("Odoo 18.0 was not found and git is not installed. " + ODOO_HINT)
    say(f"Odoo 18.0 not found; cloning branch 18.0 of {ODOO_GIT} into {ODOO_CACHE}")
    ODOO_CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = ODOO_CACHE.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    res = subprocess.run(
        ["git", "clone", "--depth", "1", "--branch", "18.0", ODOO_GIT, str(tmp)],
        env=dict(os.environ, GIT_TERMINAL_PROMPT="0"),
        timeout=1800,
    )
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DevError(
            "Odoo 18.0 was not found and could not be downloaded (no network?). " + ODOO_HINT
        )
    tmp.rename(ODOO_CACHE)
    return ODOO_CACHE


ODOO_HINT = (
    "Point ODOO_PATH at an existing Odoo 18.0 source tree (the folder holding odoo-bin), "
    "e.g. `ODOO_PATH=/path/to/odoo-18.0 make demo`."
)


TEST_MODULE = f"{MODULE}_test"  # tests/addons/: a throw-away signable model for the mixin's tests
TEST_ADDONS = ROOT / "tests" / "addons"


def addons_path(odoo_root: Path, test_addons: bool = False, addon_root: Path = ROOT) -> str:
    """Odoo's add-ons path with the add-on at ``addon_root`` (this checkout unless given: a
    benchmark may serve another version of it)."""
    # The link lives outside the repository: Odoo walks module folders following links, so a
    # link inside the add-on that points back at it would recurse for ever.
    link_dir = CACHE / "addons" / hashlib.sha256(str(addon_root).encode()).hexdigest()[:12]
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / MODULE
    if link.is_symlink() and link.resolve() != addon_root.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(addon_root, target_is_directory=True)
    paths = [odoo_root / "odoo" / "addons"]
    if (odoo_root / "addons").is_dir():
        paths.append(odoo_root / "addons")
    paths.append(link_dir)
    if test_addons:
        paths.append(TEST_ADDONS)
    return ",".join(str(p) for p in paths)


SUPERUSER_DSN_VAR = "MEDDEV_ESIGN_TEST_PG_SUPERUSER_DSN"


def odoo_command(
    odoo_root: Path,
    cluster: Cluster,
    wk_dir: Path | None,
    *args: str,
    sub: str = "server",
    master_key: str | None = None,
    pkcs11: dict[str, str] | None = None,
    test_addons: bool = False,
    conf: Path | None = None,
    addon_root: Path = ROOT,
) -> tuple[list[str], dict]:
    """Return the argv and environment that run Odoo 18 (``sub`` command) on our cluster.

    ``master_key`` goes into the config file as the PKI keystore's master key, and
    ``pkcs11`` (from :func:`demo_softhsm`) points the PKCS#11 keystore at a token (the demo);
    the tests set their own. ``conf`` is the config file written (``.state/odoo.conf`` unless
    given: servers with other options each need their own).

    Odoo runs from a file, ``scripts/odoo_bin.py``, as ``odoo-bin`` would: in prefork mode it
    re-executes ``sys.argv[0]`` to start its gevent worker.
    """
    token = dict(pkcs11 or {})
    softhsm_conf = token.pop("SOFTHSM2_CONF", None)
    conf = conf or STATE / "odoo.conf"
    conf.write_text(
        "[options]\n"
        + (f"meddev_esign_master_key = {master_key}\n" if master_key else "")
        + "".join(f"{option} = {value}\n" for option, value in token.items())
        + f"addons_path = {addons_path(odoo_root, test_addons, addon_root)}\n"
        "db_host = 127.0.0.1\n"
        f"db_port = {cluster.meta['port']}\n"
        f"db_user = {cluster.meta['odoo_user']}\n"
        f"db_password = {cluster.meta['odoo_password']}\n"
        f"data_dir = {STATE / 'odoo-data'}\n"
        "list_db = False\n"
        "max_cron_threads = 1\n"
    )
    conf.chmod(0o600)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(odoo_root), env.get("PYTHONPATH")]))
    env["TZ"] = "UTC"  # what odoo-bin sets before importing odoo
    if softhsm_conf:
        env["SOFTHSM2_CONF"] = softhsm_conf
    if wk_dir:
        env["PATH"] = os.pathsep.join([str(wk_dir), env.get("PATH", "")])
    argv = [sys.executable, str(LAUNCHER), sub, "-c", str(conf), *args]
    return argv, env


LAUNCHER = ROOT / "scripts" / "odoo_bin.py"


def prefork_args(workers: int, gevent_port: int | None) -> list[str]:
    """Odoo's options for ``workers`` HTTP worker processes and the gevent (websocket) port;
    none for the threaded server (``workers`` 0)."""
    if not workers:
        return []
    args = ["--workers", str(workers), "--max-cron-threads", "1"]
    if gevent_port:
        args += ["--gevent-port", str(gevent_port)]
    return args


def answers(port: int, path: str = "/web/health", host: str = "127.0.0.1") -> bool:
    """Whether an HTTP GET of ``path`` on ``host:port`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except (OSError, ValueError):
        return False


def serve(
    db: str,
    *,
    workers: int = 4,
    http_port: int | None = None,
    gevent_port: int | None = None,
    args: tuple[str, ...] | list[str] = (),
    logfile: Path | None = None,
    name: str | None = None,
    odoo_root: Path | None = None,
    cluster: Cluster | None = None,
    wk_dir: Path | None = None,
    env: dict | None = None,
    timeout: float = 180,
    **options,  # noqa: ANN003 - odoo_command's: master_key, pkcs11, test_addons
) -> subprocess.Popen:
    """Start Odoo serving ``db`` on the private cluster, as production runs it; return the
    running process once it answers HTTP (and, with workers, its gevent worker answers too).

    :param workers: HTTP worker processes (prefork); 0 runs the threaded server.
    :param http_port: free ports from 18069 (HTTP) and from 18072 (gevent) unless given.
    :param args: more Odoo options (``--log-level=warn``, ``--db_maxconn=16``...).
    :param logfile: Odoo's log file; else its log goes to this process's stderr.
    :param name: names the server's config file (``.state/odoo-<name>.conf``); servers that
        run at once with different options need different names.
    :param env: more environment variables for Odoo.

    The returned process has ``http_port``, ``gevent_port`` and ``logfile`` attributes; end it
    with :func:`stop`. It leads its own process group, so its workers end with it.
    """
    if odoo_root is None:
        odoo_root, how = find_odoo()
        if odoo_root is None:
            raise DevError(f"Odoo 18.0 not found: {how}")
    if cluster is None:
        cluster = Cluster()
        cluster.ensure()
    http_port = http_port or Cluster._free_port(18069)
    if workers and not gevent_port:
        gevent_port = Cluster._free_port(max(18072, http_port + 1))
        while gevent_port == http_port:
            gevent_port = Cluster._free_port(gevent_port + 1)
    conf = STATE / f"odoo-{name or db}-{http_port}.conf"
    argv, run_env = odoo_command(
        odoo_root, cluster, wk_dir, "-d", db, f"--db-filter=^{re.escape(db)}$",
        "--http-interface", "127.0.0.1", "--http-port", str(http_port),
        *prefork_args(workers, gevent_port),
        *([f"--logfile={logfile}"] if logfile else []), *args,
        conf=conf, **options,
    )  # fmt: skip
    run_env.update(env or {})
    proc = subprocess.Popen(argv, env=run_env, start_new_session=True)
    proc.http_port, proc.gevent_port, proc.logfile = http_port, gevent_port, logfile
    deadline = time.monotonic() + timeout
    while not (
        answers(http_port) and (not gevent_port or answers(gevent_port, "/websocket/health"))
    ):
        if proc.poll() is not None:
            raise DevError(f"Odoo serving {db} on port {http_port} exited ({proc.returncode})")
        if time.monotonic() > deadline:
            stop(proc)
            raise DevError(f"Odoo serving {db} did not answer on port {http_port} in {timeout} s")
        time.sleep(0.3)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """End a server from :func:`serve`: a graceful stop (SIGINT to its process group), then
    SIGKILL to that group if it is still there after ``timeout`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # The gevent worker is not a child the master waits for: make sure the group is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode
