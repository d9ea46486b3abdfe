"""What a QA director reports each month, read from SQL views over the signing records.

Read-only models, each a PostgreSQL view (``_auto = False``) so that a year of data opens
at once in Odoo's graph, pivot and list views, with nothing stored twice and nothing to
recompute:

* ``esign.kpi.request``: one row per signing request, with its cycle time, its age while
  open, whether it is overdue, rejected, changed after signing, and whether it passed first
  time;
* ``esign.kpi.cycle``: per policy and month, the median and 90th percentile of the cycle time
  and the first-pass rate, which a pivot cannot compute from the rows above;
* ``esign.kpi.step``: the same percentiles per step: from the request's opening to the step's
  last signature;
* ``esign.kpi.paperless``: per month, electronic signatures against wet-ink signatures migrated
  from paper (``esign.migrated.signature``).

``esign.kpi.audit.query`` is a stored log instead: each export of the audit trail, with the
time the server took to answer it.

Definitions (also in each field's help):

* **cycle time**: from the request's opening to its completion;
* **overdue**: an open request older than its policy's reminder time;
* **changed after signing**: a change of the record, with its reason for change, audited while
  the request was open (a signed field changed: the signatures that covered it stopped
  counting);
* **first pass**: completed, with no earlier rejected request of the same policy on the same
  record and no change after signing.
"""

from odoo import fields, models, tools
from odoo.tools import SQL

OPEN_STATES = ("waiting", "in_progress")

REQUEST_STATES = [
    ("waiting", "Waiting"),
    ("in_progress", "In Progress"),
    ("completed", "Completed"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
]


class EsignKpiRequest(models.Model):
    """One row per signing request, with the figures the dashboard groups and counts."""

    _name = "esign.kpi.request"
    _description = "Signing KPIs: Requests"
    _auto = False
    _order = "opened_at desc"
    _rec_name = "record_name"

    request_id = fields.Many2one("esign.request", string="Request", readonly=True)
    policy_id = fields.Many2one("esign.policy", string="Policy", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    res_model = fields.Char(string="Document Model", readonly=True)
    record_name = fields.Char(string="Document", readonly=True)
    state = fields.Selection(REQUEST_STATES, readonly=True)
    opened_at = fields.Datetime(
        string="Opened", readonly=True, help="When the record first needed these signatures."
    )
    completed_at = fields.Datetime(string="Completed", readonly=True)
    cycle_hours = fields.Float(
        string="Cycle Time (h)",
        readonly=True,
        aggregator="avg",
        help="Hours from the request's opening to its completion; empty while it is open.",
    )
    open_age_days = fields.Float(
        string="Waiting (days)",
        readonly=True,
        aggregator="max",
        help="Days an open request has waited so far; empty once it is closed.",
    )
    overdue = fields.Boolean(
        readonly=True,
        help="Open for longer than the policy's reminder time ('Remind After (days)').",
    )
    rejected = fields.Boolean(readonly=True, help="The request was rejected by a signer.")
    changed_after_signing = fields.Boolean(
        readonly=True,
        help="While the request was open, the record was changed with a reason for change: a "
        "signed field changed, and the signatures that covered it no longer count.",
    )
    first_pass = fields.Boolean(
        string="First Pass",
        readonly=True,
        help="Completed with no earlier rejection of the same policy on the record and no "
        "change after signing.",
    )
    request_count = fields.Integer(string="Requests", readonly=True, aggregator="sum")
    overdue_count = fields.Integer(string="Overdue Requests", readonly=True, aggregator="sum")
    first_pass_count = fields.Integer(
        string="First-Pass Requests", readonly=True, aggregator="sum"
    )
    changed_count = fields.Integer(string="Changed after Signing", readonly=True, aggregator="sum")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE VIEW %(view)s AS (
                    WITH changed AS (
                        -- Requests whose record was changed with a reason while they were
                        -- open: such changes are few, so they are found once and hashed.
                        SELECT DISTINCT r.id
                          FROM esign_audit_entry a
                          JOIN esign_request r
                            ON r.res_id = a.res_id AND r.res_model = a.res_model
                         WHERE a.operation = 'write' AND a.reason IS NOT NULL
                           AND a.at >= date_trunc('second', r.create_date)
                           AND (r.completed_at IS NULL OR a.at <= r.completed_at)
                    ), rejected_before AS (
                        SELECT DISTINCT r.id
                          FROM esign_request o
                          JOIN esign_request r
                            ON r.res_id = o.res_id AND r.res_model = o.res_model
                           AND r.policy_id = o.policy_id AND r.id > o.id
                         WHERE o.state = 'rejected'
                    ), base AS (
                        SELECT r.id, r.policy_id, r.company_id, r.res_model, r.record_name,
                               r.state, r.create_date AS opened_at, r.completed_at,
                               p.reminder_days,
                               changed.id IS NOT NULL AS changed_after_signing,
                               rejected_before.id IS NOT NULL AS rejected_before
                          FROM esign_request r
                          JOIN esign_policy p ON p.id = r.policy_id
                          LEFT JOIN changed ON changed.id = r.id
                          LEFT JOIN rejected_before ON rejected_before.id = r.id
                    )
                    SELECT id, id AS request_id, policy_id, company_id, res_model, record_name,
                           state, opened_at, completed_at,
                           CASE WHEN completed_at IS NOT NULL
                                THEN EXTRACT(EPOCH FROM completed_at - opened_at) / 3600.0
                           END AS cycle_hours,
                           CASE WHEN state IN %(open)s
                                THEN EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC') - opened_at)
                                     / 86400.0
                           END AS open_age_days,
                           %(overdue)s AS overdue,
                           state = 'rejected' AS rejected,
                           changed_after_signing,
                           %(first_pass)s AS first_pass,
                           1 AS request_count,
                           (%(overdue)s)::int AS overdue_count,
                           (%(first_pass)s)::int AS first_pass_count,
                           changed_after_signing::int AS changed_count
                      FROM base
                )
                """,
                view=SQL.identifier(self._table),
                open=OPEN_STATES,
                overdue=SQL(
                    "(state IN %s AND reminder_days > 0"
                    " AND opened_at < (now() AT TIME ZONE 'UTC')"
                    " - make_interval(days => reminder_days))",
                    OPEN_STATES,
                ),
                first_pass=SQL(
                    "(state = 'completed' AND NOT rejected_before AND NOT changed_after_signing)"
                ),
            )
        )


class EsignKpiCycle(models.Model):
    """Per policy and month: how long signing took (median, 90th percentile) and how often
    it passed first time."""

    _name = "esign.kpi.cycle"
    _description = "Signing KPIs: Cycle Time per Policy"
    _auto = False
    _order = "month desc, policy_id"

    policy_id = fields.Many2one("esign.policy", string="Policy", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    month = fields.Date(readonly=True, help="The month the requests were opened in.")
    request_count = fields.Integer(string="Requests", readonly=True)
    completed_count = fields.Integer(string="Completed", readonly=True)
    median_hours = fields.Float(
        string="Median Cycle (h)",
        readonly=True,
        aggregator="avg",
        help="Half of the completed requests took less than this, from opening to completion. "
        "Summed over several rows it is their average.",
    )
    p90_hours = fields.Float(
        string="90th Percentile (h)",
        readonly=True,
        aggregator="max",
        help="Nine in ten completed requests took less than this.",
    )
    first_pass_rate = fields.Float(
        string="First-Pass Rate (%)",
        readonly=True,
        aggregator="avg",
        help="Of the requests that ended (completed or rejected), the share completed at the "
        "first attempt with no change after signing.",
    )
    overdue_count = fields.Integer(string="Overdue", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE VIEW %(view)s AS (
                    SELECT min(id) AS id, policy_id, company_id,
                           date_trunc('month', opened_at)::date AS month,
                           count(*) AS request_count,
                           count(completed_at) AS completed_count,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_hours)
                               AS median_hours,
                           percentile_cont(0.9) WITHIN GROUP (ORDER BY cycle_hours)
                               AS p90_hours,
                           100.0 * count(*) FILTER (WHERE first_pass)
                               / NULLIF(count(*) FILTER (WHERE state IN ('completed', 'rejected')),
                                        0) AS first_pass_rate,
                           count(*) FILTER (WHERE overdue) AS overdue_count
                      FROM esign_kpi_request
                     GROUP BY policy_id, company_id, date_trunc('month', opened_at)
                )
                """,
                view=SQL.identifier(self._table),
            )
        )


class EsignKpiStep(models.Model):
    """Per policy step and month: how long it took from the request's opening until the
    step's last signature."""

    _name = "esign.kpi.step"
    _description = "Signing KPIs: Cycle Time per Step"
    _auto = False
    _order = "month desc, policy_id, sequence"

    policy_id = fields.Many2one("esign.policy", string="Policy", readonly=True)
    step_id = fields.Many2one("esign.policy.step", string="Step", readonly=True)
    sequence = fields.Integer(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    month = fields.Date(readonly=True, help="The month the requests were opened in.")
    done_count = fields.Integer(string="Steps Done", readonly=True)
    median_hours = fields.Float(
        string="Median to Done (h)",
        readonly=True,
        aggregator="avg",
        help="Half of the steps were done within this many hours of the request's opening.",
    )
    p90_hours = fields.Float(
        string="90th Percentile (h)",
        readonly=True,
        aggregator="max",
        help="Nine in ten steps were done within this many hours of the request's opening.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE VIEW %(view)s AS (
                    WITH last AS (
                        -- Each step's last signature per request, in one pass.
                        SELECT request_id, step_id, max(signed_at) AS last_at
                          FROM esign_signature
                         GROUP BY request_id, step_id
                    ), done AS (
                        SELECT l.id, r.policy_id, l.step_id, l.sequence, r.company_id,
                               date_trunc('month', r.create_date)::date AS month,
                               EXTRACT(EPOCH FROM last.last_at - r.create_date) / 3600.0
                                   AS hours
                          FROM esign_request_line l
                          JOIN esign_request r ON r.id = l.request_id
                          JOIN last
                            ON last.request_id = l.request_id AND last.step_id = l.step_id
                         WHERE l.state = 'done'
                    )
                    SELECT min(id) AS id, policy_id, step_id, min(sequence) AS sequence,
                           company_id, month, count(*) AS done_count,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours,
                           percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours
                      FROM done
                     GROUP BY policy_id, step_id, company_id, month
                )
                """,
                view=SQL.identifier(self._table),
            )
        )


class EsignKpiPaperless(models.Model):
    """Per month and company: signatures made electronically against wet-ink signatures
    migrated from paper, and the paperless ratio."""

    _name = "esign.kpi.paperless"
    _description = "Signing KPIs: Paperless Ratio"
    _auto = False
    _order = "month desc"

    company_id = fields.Many2one("res.company", readonly=True)
    month = fields.Date(readonly=True, help="The month the signatures were made in.")
    origin = fields.Selection(
        [("electronic", "Electronic"), ("paper", "Paper (migrated)")],
        readonly=True,
        help="Electronic signatures made here, or wet-ink signatures migrated from paper.",
    )
    signature_count = fields.Integer(string="Signatures", readonly=True)
    electronic_count = fields.Integer(string="Electronic Signatures", readonly=True)
    paper_count = fields.Integer(
        string="Paper Signatures (migrated)",
        readonly=True,
        help="Wet-ink signatures of paper records, migrated with their scans.",
    )
    paperless_ratio = fields.Float(
        string="Paperless Ratio (%)",
        readonly=True,
        aggregator="avg",
        help="Electronic signatures as a share of all signatures of the month (the same on the "
        "month's electronic and paper rows).",
    )

    def init(self):
        # One row per company, month and origin, so that a chart stacks electronic against
        # paper; each row also carries the month's ratio.
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE VIEW %(view)s AS (
                    WITH counts AS (
                        SELECT company_id, date_trunc('month', signed_at)::date AS month,
                               'electronic'::varchar AS origin, count(*)::int AS n
                          FROM esign_signature GROUP BY 1, 2
                        UNION ALL
                        SELECT company_id, date_trunc('month', signed_on)::date,
                               'paper'::varchar, count(*)::int
                          FROM esign_migrated_signature GROUP BY 1, 2
                    )
                    SELECT row_number() OVER (ORDER BY month, company_id, origin) AS id,
                           company_id, month, origin,
                           n AS signature_count,
                           CASE WHEN origin = 'electronic' THEN n ELSE 0 END AS electronic_count,
                           CASE WHEN origin = 'paper' THEN n ELSE 0 END AS paper_count,
                           100.0 * sum(n) FILTER (WHERE origin = 'electronic')
                                   OVER (PARTITION BY company_id, month)
                               / sum(n) OVER (PARTITION BY company_id, month)
                               AS paperless_ratio
                      FROM counts
                )
                """,
                view=SQL.identifier(self._table),
            )
        )


class EsignKpiAuditQuery(models.Model):
    """One answered audit query: an auditor's export of the audit trail, and how long the
    server took to build it (the audit-query response time of the QA director's report)."""

    _name = "esign.kpi.audit.query"
    _description = "Signing KPIs: Audit Query Response Time"
    _order = "id desc"
    _log_access = True

    user_id = fields.Many2one(
        "res.users", string="Asked By", required=True, readonly=True, index=True
    )
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    entry_count = fields.Integer(
        string="Entries", readonly=True, help="Audit entries the export selected."
    )
    file_format = fields.Char(string="Format", readonly=True)
    seconds = fields.Float(
        string="Response Time (s)",
        readonly=True,
        aggregator="avg",
        digits=(16, 3),
        help="From the export's start to its file being ready, on the server.",
    )

    def _record(self, user, company, entry_count, file_format, seconds):
        """Log one answered query (the exporting wizard calls this; readers cannot write)."""
        return self.sudo().create(
            {
                "user_id": user.id,
                "company_id": company.id,
                "entry_count": entry_count,
                "file_format": file_format,
                "seconds": seconds,
            }
        )
