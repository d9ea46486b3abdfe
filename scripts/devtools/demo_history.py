"""A month of real signing in the demo, so that E-Signatures > Reporting has a story to tell.

``make demo`` runs this once per demo database, after the PKI is on. Every step goes through the
add-on as a user would: the change requests are created by their author, signed through the
signing wizard with each demo user's password (its log-in), rejected through the rejection
wizard, changed with a reason for change. Nothing is written around the signing core, so the
signatures, their timestamps and the audit chain are as real as any other; only their dates are
today's. Together with the migrated paper history (2019-2024) the dashboard then shows:

* the paperless ratio: wet-ink signatures in past years, electronic ones this month;
* cycle time and first pass: four change requests approved, one of them after a rejection and
  one after a change to signed content (voided and signed again);
* signatures per signer and per meaning; open requests waiting for their reviewers.
"""

HISTORY = """
from odoo import Command

TITLES = {titles!r}
CR = env["esign.change.request"]
if CR.search_count([("title", "in", list(TITLES))]):
    print("MEDDEV-DONE 0")
else:
    users = {{u.login: u for u in env["res.users"].search([("login", "in", [
        "rd.engineer", "rd.lead", "quality.engineer", "qa.manager", "prod.supervisor"])])}}
    rd, lead, qe, qam, sup = (users[k] for k in (
        "rd.engineer", "rd.lead", "quality.engineer", "qa.manager", "prod.supervisor"))
    pump = env.ref("meddev_esign.demo_product_infusion_pump")
    made = 0

    def sign(user, record, reason):
        global made
        wizards = env["esign.sign.wizard"].with_user(user)
        action = wizards._action_open(record.with_user(user))
        wizard = wizards.browse(action["res_id"])
        wizard.write({{"login": user.login, "reason": reason}})
        wizard.action_sign(password=user.login)
        made += 1

    def reject(user, record, reason):
        env["esign.reject.wizard"].with_user(user).create(
            {{"res_model": record._name, "res_id": record.id, "reason": reason}}
        ).action_reject()

    def new_cr(title, description, impact, risk="low"):
        cr = CR.with_user(rd).create({{
            "title": title, "change_type": "engineering", "risk_level": risk,
            "product_ids": [Command.set(pump.ids)], "description": description,
            "impact_description": impact,
        }})
        sign(rd, cr, "I wrote this change request.")
        cr.action_submit()
        return cr.with_user(rd)

    def reviews(cr):
        sign(lead, cr, "Design impact reviewed.")
        sign(qe, cr, "Quality impact reviewed.")
        cr.action_request_approval()

    def approve(cr):
        sign(qam, cr, "Approved for implementation.")
        cr.with_user(qam).action_approve()

    titles = list(TITLES)
    # 1. First pass, through verification to closed.
    cr = new_cr(titles[0], "Add a moulded strain relief to the IP-200 mains cord.",
                "Housing drawing rev F; no software or labelling impact.")
    reviews(cr)
    approve(cr)
    cr.action_to_verification()
    sign(qe, cr, "Strain relief fitted on the pilot units; pull test passed.")
    cr.action_close()
    # 2. Rejected at review (a missing test), revised and approved: not first pass.
    cr = new_cr(titles[1], "Move the IP-200 sterile pouch to a second supplier.",
                "Supplier qualification needed; pouch drawing unchanged.", "medium")
    sign(lead, cr, "Design impact reviewed.")
    reject(qe, cr, "The impact assessment misses the seal-strength test of the new pouch.")
    cr.write({{"impact_description": "Supplier qualification and a seal-strength test "
               "(ASTM F88) on three lots before release.",
               "esign_change_reason": "QA review: the seal-strength test was missing."}})
    sign(rd, cr, "Seal-strength test added.")
    cr.action_submit()
    reviews(cr)
    approve(cr)
    # 3. Signed content changed during review, with a reason: the review is voided and
    #    signed again (a change after signing), then approved.
    cr = new_cr(titles[2], "IP-200 firmware 2.4.1: export of the alarm log over USB.",
                "Software verification of the export; IFU section 7 updated.", "medium")
    sign(lead, cr, "Design impact reviewed.")
    cr.write({{
        "impact_description": "Software verification of the export; IFU section 7 updated; "
        "cybersecurity assessment of the USB port repeated.",
        "esign_change_reason": "The R&D review asked for the USB cybersecurity assessment.",
    }})
    reviews(cr)
    approve(cr)
    # 4. and 5. Open: one waits for the QA review, one for its approval.
    cr = new_cr(titles[3], "Print the UDI carrier on the IP-200 outer box.",
                "Artwork change; GS1 verification of the printed carrier.")
    sign(lead, cr, "Design impact reviewed.")
    cr = new_cr(titles[4], "Tighten the PS-10 sensor calibration tolerance to 0.5 %.",
                "Incoming inspection plan and calibration procedure updated.")
    reviews(cr)
    env.cr.commit()
    print("MEDDEV-DONE", made)
"""

TITLES = (
    "IP-200: moulded strain relief on the mains cord",
    "IP-200: second supplier for the sterile pouch",
    "IP-200: firmware 2.4.1, alarm log export",
    "IP-200: UDI carrier on the outer box",
    "PS-10: tighter calibration tolerance",
)


def history_script() -> str:
    """The ``odoo shell`` script that signs the demo's month, once per database."""
    return HISTORY.format(titles=TITLES)
