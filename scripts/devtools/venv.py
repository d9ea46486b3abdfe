"""A project virtualenv when the Python running us may not take packages (PEP 668).

A stock Debian 12 marks its ``python3`` as externally managed: ``pip install`` into it is
refused. ``make demo`` and ``make test`` then create ``.venv/`` (git-ignored) once, with
``python3-venv`` installed through apt when we run as root and it is missing, and run the
rest of the command in it. An active virtualenv, a Python that takes packages, or an explicit
``PYTHON=`` given to ``make`` (``MEDDEV_PYTHON_EXPLICIT``) are used as they are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .common import ROOT, DevError, is_root, run, say

VENV = Path(os.environ.get("MEDDEV_VENV", ROOT / ".venv"))


def externally_managed() -> bool:
    """True when this interpreter is a system one that refuses pip installs (PEP 668)."""
    if sys.prefix != sys.base_prefix:  # a virtualenv: ours to fill
        return False
    return (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists()


def _venv_works(python: str) -> bool:
    probe = subprocess.run(
        [python, "-c", "import ensurepip, venv"], capture_output=True, text=True
    )
    return probe.returncode == 0


def ensure_venv_python() -> None:
    """Re-run this command in the project virtualenv when the current Python cannot take
    packages; return when it can (or when the user named the Python explicitly)."""
    if os.environ.get("MEDDEV_PYTHON_EXPLICIT") or not externally_managed():
        return
    python = VENV / "bin" / "python3"
    if not python.exists():
        if not _venv_works(sys.executable):
            if not (is_root() and shutil.which("apt-get")):
                raise DevError(
                    f"{sys.executable} is externally managed (PEP 668) and cannot make a "
                    "virtualenv: install python3-venv, or pass PYTHON=/path/to/a/venv/python"
                )
            say("installing python3-venv to make the project's virtualenv")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            run(["apt-get", "update", "-qq"], env=env)
            run(["apt-get", "install", "-y", "-qq", "python3-venv"], env=env)
        say(f"{sys.executable} is externally managed (PEP 668): making the virtualenv {VENV}")
        run([sys.executable, "-m", "venv", str(VENV)])
    say(f"using the project's virtualenv {VENV}")
    script = str(ROOT / "scripts" / "dev.py")
    os.execv(str(python), [str(python), script, *sys.argv[1:]])
