"""What every developer tool shares: the paths, printing, running commands, the user's error."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MODULE = "meddev_esign"
STATE = Path(os.environ.get("MEDDEV_STATE_DIR", ROOT / ".state"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / MODULE


class DevError(Exception):
    """A problem the user can fix; printed without a traceback."""


def say(msg: str) -> None:
    print(f"[{MODULE}] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def file_digest(*paths: Path) -> str:
    h = hashlib.sha256(sys.executable.encode())
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()
