"""Finding Odoo 18.0 (or fetching it), and the command line that runs it on our cluster."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def addons_path(odoo_root: Path, test_addons: bool = False) -> str:
    # The link lives outside the repository: Odoo walks module folders following links, so a
    # link inside the add-on that points back at it would recurse for ever.
    link_dir = CACHE / "addons" / hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / MODULE
    if link.is_symlink() and link.resolve() != ROOT:
        link.unlink()
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
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
) -> tuple[list[str], dict]:
    """Return the argv and environment that run Odoo 18 (``sub`` command) on our cluster.

    ``master_key`` goes into the config file as the PKI keystore's master key, and
    ``pkcs11`` (from :func:`demo_softhsm`) points the PKCS#11 keystore at a token (the demo);
    the tests set their own.
    """
    token = dict(pkcs11 or {})
    softhsm_conf = token.pop("SOFTHSM2_CONF", None)
    conf = STATE / "odoo.conf"
    conf.write_text(
        "[options]\n"
        + (f"meddev_esign_master_key = {master_key}\n" if master_key else "")
        + "".join(f"{option} = {value}\n" for option, value in token.items())
        + f"addons_path = {addons_path(odoo_root, test_addons)}\n"
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
    argv = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", sub, "-c", str(conf), *args]
    return argv, env
