"""Translations: export the ``.pot`` from real Odoo and merge it into ``zh_CN.po``."""

from __future__ import annotations

import argparse

from .cluster import Cluster
from .common import MODULE, ROOT, DevError, run, say
from .odoo import find_odoo, odoo_command


def cmd_i18n(_args: argparse.Namespace) -> int:
    """Export i18n/meddev_esign.pot from real Odoo and merge it into i18n/zh_CN.po."""
    import polib  # noqa: PLC0415 - installed by bootstrap

    odoo_root, how = find_odoo()
    if odoo_root is None:
        raise DevError(f"Odoo 18.0 not found: {how}")
    cluster = Cluster()
    cluster.ensure()
    db = f"{MODULE}_i18n"
    pot = ROOT / "i18n" / f"{MODULE}.pot"
    try:
        cluster.drop_db(db)
        for extra in (
            ["-i", MODULE, "--without-demo=all"],
            [f"--i18n-export={pot}", f"--modules={MODULE}"],
        ):
            argv, env = odoo_command(
                odoo_root,
                cluster,
                None,
                "-d",
                db,
                *extra,
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
            )
            run(argv, env=env)
        cluster.drop_db(db)
    finally:
        if cluster.started_here:
            cluster.stop()
    po_path = ROOT / "i18n" / "zh_CN.po"
    old = (
        {(e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(str(po_path))}
        if po_path.exists()
        else {}
    )
    po = polib.pofile(str(pot))
    po.metadata.update({"Language": "zh_CN", "Plural-Forms": "nplurals=1; plural=0;"})
    for entry in po:
        entry.msgstr = old.get((entry.msgctxt, entry.msgid), "")
    po.save(str(po_path))
    missing = [e.msgid for e in po if not e.msgstr]
    say(f"{pot.name}: {len(po)} strings; zh_CN.po: {len(missing)} untranslated")
    return 0
