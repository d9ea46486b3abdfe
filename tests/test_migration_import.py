"""Paper-signed history comes in with its scans, all or nothing, and never as e-signatures."""

import base64
import hashlib
import io
import zipfile

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import EsignCase

HEADER = "record_type,record,signer,signed_on,meaning,scan\n"
SCAN_1 = b"%PDF-1.4\n% batch record page 1, signed by Wang Fang\n"
SCAN_2 = b"%PDF-1.4\n% batch record page 9, signed by Li Wei\n"


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return base64.b64encode(buffer.getvalue())


@tagged("post_install", "-at_install")
class TestMigrationImport(EsignCase):
    """Verifies: S11, R15"""

    def setUp(self):
        super().setUp()
        self.old_lot = self._make_lot("PAPER-2019-001")

    def _wizard(self, table, scans=None, user=None):
        return (
            self.env["esign.migration.import"]
            .with_user(user or self.esign_admin)
            .create(
                {
                    "data_file": base64.b64encode(table.encode()),
                    "data_file_name": "history.csv",
                    "scans_file": scans
                    if scans is not None
                    else _zip({"p1.pdf": SCAN_1, "scans/p9.pdf": SCAN_2}),
                    "scans_file_name": "scans.zip",
                }
            )
        )

    def _state(self):
        self.env.flush_all()
        return (
            self.env["esign.migrated.signature"].search_count([]),
            self.env["esign.audit.entry"].search_count([]),
            len(self.old_lot.message_ids),
        )

    def test_import_keeps_scan_hash_and_trail(self):
        wizard = self._wizard(
            HEADER
            + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"
            + f"lot,{self.old_lot.name},Li Wei,2018-06-05,approved,p9.pdf\n"
        )
        wizard.action_import()
        self.assertEqual(wizard.imported_count, 2)
        rows = self.env["esign.migrated.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.old_lot.id)], order="id"
        )
        self.assertEqual(rows.mapped("signer_name"), ["Wang Fang", "Li Wei"])
        self.assertEqual(rows[0].scan_sha256, hashlib.sha256(SCAN_1).hexdigest())
        self.assertEqual(rows.mapped("scan_state"), ["ok", "ok"])
        self.assertEqual(rows[0].origin_label, "Migrated, paper original")
        entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", "esign.migrated.signature"), ("res_id", "in", rows.ids)]
        )
        self.assertEqual(len(entries), 2)
        self.assertIn(hashlib.sha256(SCAN_2).hexdigest(), " ".join(entries.mapped("payload")))
        self.assertTrue(all("Migrated from a paper record" in e.reason for e in entries))
        self.assertTrue(
            any("Paper signature migrated: Wang Fang" in m.body for m in self.old_lot.message_ids)
        )
        # History is not an e-signature: the lot is still unreleased, its request unsigned.
        self.assertNotEqual(self.old_lot.esign_release_state, "released")
        self.assertFalse(self.signatures(self.old_lot))
        # The paperless ratio counts them as paper.
        self.env.invalidate_all()
        paper = self.env["esign.kpi.paperless"].search([("month", "=", "2018-06-01")])
        self.assertEqual((paper.paper_count, paper.electronic_count), (2, 0))
        self.assertEqual(paper.paperless_ratio, 0.0)
        # Imported twice: refused, row by row.
        again = self._wizard(
            HEADER + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"
        )
        error = self.refused(again.action_import)
        self.assertIn(
            "Row 2: this paper signature of PAPER-2019-001 was imported before", str(error)
        )

    def test_bad_rows_import_nothing_and_name_each_row(self):
        before = self._state()
        wizard = self._wizard(
            HEADER
            + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"  # 2: good
            + "lot,NO-SUCH-LOT,Li Wei,2018-06-05,approved,p9.pdf\n"  # 3
            + f"lot,{self.old_lot.name},Li Wei,2018-06-05,approved,missing.pdf\n"  # 4
            + f"lot,{self.old_lot.name},Li Wei,2099-01-01,approved,p9.pdf\n"  # 5
            + f"lot,{self.old_lot.name},wang fang,2018-06-04,released,p1.pdf\n"  # 6: duplicate
            + f"lot,{self.old_lot.name},Li Wei,2018-06-05,no_such_meaning,p9.pdf\n"  # 7
        )
        message = str(self.refused(wizard.action_import))
        self.assertIn("Nothing was imported: 5 problem(s)", message)
        for line in (
            "Row 3: no record NO-SUCH-LOT",
            "Row 4: the scan missing.pdf is not in the ZIP",
            "Row 5: the date 2099-01-01 is in the future",
            "Row 6: the same signature as row 2",
            "Row 7: no signature meaning with the code no_such_meaning",
        ):
            self.assertIn(line, message)
        self.assertEqual(self._state(), before)

    def test_unreadable_uploads_and_unauthorised_users(self):
        before = self._state()
        good = HEADER + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"
        self.assertIn(
            "lacks the column(s)",
            str(self.refused(self._wizard("record,signer\nx,y\n").action_import)),
        )
        not_zip = self._wizard(good, scans=base64.b64encode(b"not a zip"))
        self.assertIn("one ZIP file", str(self.refused(not_zip.action_import)))
        with self.assertRaises(AccessError):
            self._wizard(good, user=self.qa)
        other_admin_wizard = self._wizard(good)
        with self.assertRaises(AccessError):
            other_admin_wizard.with_user(self.auditor).action_import()
        self.assertEqual(self._state(), before)

    def test_changed_scan_is_named_by_the_traceability_check(self):
        self._wizard(
            HEADER + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"
        ).action_import()
        row = self.env["esign.migrated.signature"].search([("res_id", "=", self.old_lot.id)])
        with self.assertRaises(UserError):
            row.write({"signer_name": "Someone Else"})
        with self.assertRaises(UserError):
            row.unlink()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", row._name),
                    ("res_field", "=", "scan"),
                    ("res_id", "=", row.id),
                ]
            )
        )
        attachment.raw = SCAN_1 + b"% a line added after the import\n"
        self.env.invalidate_all()
        self.assertEqual(row.scan_state, "mismatch")
        html, _kind = self.env["ir.actions.report"]._render_qweb_html(
            "meddev_esign.action_report_migration_traceability", row.ids
        )
        self.assertIn(b"1 signature(s)", html)
        self.assertIn(b"Differs from its hash", html)
        self.assertIn(row.scan_sha256.encode(), html)

    def test_paper_signatures_show_on_the_panel_and_the_certificate_not_as_esignatures(self):
        other_lot = self._make_lot("PAPER-2019-002")
        self._wizard(
            HEADER + f"lot,{self.old_lot.name},Wang Fang,2018-06-04,released,p1.pdf\n"
        ).action_import()
        self.env.invalidate_all()
        panel = str(self.old_lot.with_user(self.qa).esign_panel_html)
        self.assertIn("Paper signatures", panel)
        self.assertIn("Wang Fang", panel)
        self.assertIn("Migrated, paper original", panel)
        self.assertIn("Matches its hash", panel)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("meddev_esign.action_report_batch_release", self.old_lot.ids)[0]
            .decode()
        )
        self.assertIn("Paper signatures (migrated, paper original)", html)
        self.assertIn(hashlib.sha256(SCAN_1).hexdigest(), html)
        # Never an e-signature: the electronic block still says there is none.
        self.assertIn("No electronic signature.", html)
        # The twin: a lot with no paper history shows no paper block anywhere.
        self.assertNotIn("Paper signatures", str(other_lot.esign_panel_html or ""))
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("meddev_esign.action_report_batch_release", other_lot.ids)[0]
            .decode()
        )
        self.assertNotIn("Paper signatures", html)

    def test_paperless_rows_stack_electronic_against_paper(self):
        """Each month has one row per origin, so the chart stacks electronic on paper, and both
        rows carry the month's ratio."""
        today = fields.Date.context_today(self.env["res.users"])
        self._wizard(
            HEADER + f"lot,{self.old_lot.name},Wang Fang,{today},released,p1.pdf\n"
        ).action_import()
        self.sign(self.qe, self._make_mo())
        self.env.flush_all()
        self.env.invalidate_all()
        rows = self.env["esign.kpi.paperless"].search(
            [("month", "=", today.replace(day=1)), ("company_id", "=", self.env.company.id)]
        )
        self.assertEqual(set(rows.mapped("origin")), {"electronic", "paper"})
        paper = rows.filtered(lambda r: r.origin == "paper")
        electronic = rows - paper
        self.assertEqual(
            (paper.signature_count, paper.paper_count, paper.electronic_count), (1, 1, 0)
        )
        self.assertEqual(electronic.signature_count, electronic.electronic_count)
        ratio = 100.0 * electronic.signature_count / (electronic.signature_count + 1)
        self.assertAlmostEqual(paper.paperless_ratio, ratio, places=6)
        self.assertAlmostEqual(electronic.paperless_ratio, ratio, places=6)
        groups = self.env["esign.kpi.paperless"].read_group(
            [("id", "in", rows.ids)], ["signature_count:sum"], ["origin"]
        )
        self.assertEqual(
            {g["origin"]: g["signature_count"] for g in groups},
            {"paper": 1, "electronic": electronic.signature_count},
        )
