"""A refused print in a transaction that already wrote to the audit trail, in a real process.

Odoo's test cursors share one connection, so only a process of its own shows what a worker
does: the refusal's audit entry goes through a second connection, which must not wait for the
append lock that the print's own transaction holds (the worker would hang until Odoo kills it,
and the refusal would be lost).
"""

from __future__ import annotations

import subprocess

from conftest import MASTER_KEY, STATE, Live, odoo_tools

SCRIPT = r"""
import io
from reportlab.pdfgen import canvas
from odoo.exceptions import UserError

# A company of its own: its CA, seal and TSA settings leave the other live tests' alone.
company = env["res.company"].create({"name": "Live Refused Print Co"})
env["esign.ca"]._generate(company)
env["esign.certificate"]._enrol_seal(company)
company.write({
    "esign_seal_enabled": True,
    "esign_seal_level": "B-LT",
    "esign_seal_tsa_required": True,
    "esign_tsa_urls": "http://127.0.0.1:9/tsa",  # nothing listens on the discard port
    "esign_tsa_timeout": 1.0,
    "esign_tsa_roots_pem": env["esign.ca"].search([("company_id", "=", company.id)], limit=1)
        .certificate_pem,
})
product = env["product.product"].create(
    {"name": "Refusal Pump", "is_storable": True, "tracking": "lot", "company_id": company.id}
)
lot = env["stock.lot"].create(
    {"name": "LIVE-REFUSED-PRINT", "product_id": product.id, "company_id": company.id}
)
env.cr.commit()

buffer = io.BytesIO()
page = canvas.Canvas(buffer)
page.drawString(72, 760, "Batch Release Certificate")
page.showPage()
page.save()

# This transaction appends to the audit trail first (it then holds the chain's lock) ...
env["esign.audit.entry"]._append([{
    "company_id": company.id, "model": "stock.lot", "res_id": lot.id, "record": lot.name,
    "op": "write", "changes": [["ref", None, "changed before printing"]],
    "reason": "An audited change in the print's transaction.",
}])
report = env.ref("meddev_esign.action_report_batch_release")
try:
    env["esign.print"]._seal_report(report, lot, buffer.getvalue())
except UserError as exc:
    print("REFUSED", "no timestamp authority answered" in str(exc))
env.cr.rollback()  # ... and the refusal is written once it ends
print("LOT", lot.id)
print("MEDDEV-DONE")
"""


def test_a_refused_print_after_an_audited_change_does_not_hang(live: Live) -> None:
    odoo_root, _how = odoo_tools.find_odoo()
    argv, env = odoo_tools.odoo_command(
        odoo_root, live.cluster, None, "-d", live.db, "--no-http", "--log-level=warn",
        sub="shell", master_key=MASTER_KEY, conf=STATE / "odoo-live-shell.conf",
    )  # fmt: skip
    # Without the deferred write, the second connection waits for the lock forever.
    res = subprocess.run(argv, env=env, input=SCRIPT, text=True, capture_output=True, timeout=180)
    out = res.stdout + res.stderr
    assert "MEDDEV-DONE" in res.stdout, out[-3000:]
    assert "REFUSED True" in res.stdout, out[-3000:]
    lot_id = int(res.stdout.split("LOT ", 1)[1].split()[0])
    rows = live.sql(
        "SELECT operation FROM esign_audit_entry WHERE res_model = 'stock.lot' AND res_id = %s",
        (lot_id,),
    )
    ops = [row[0] for row in rows]
    # The refusal is kept; the rolled-back change is not.
    assert ops.count("print_refused") == 1, ops
    assert "write" not in ops, ops
