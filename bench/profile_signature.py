#!/usr/bin/env python3
"""Where the CPU of one signature goes: the PBKDF2 password check, the PKI signature, the TSA
round trip, the rest (ORM, audit trail, chatter, to-dos).

Signs a few lots of the HTTP benches' template (a copy of it) as a release authority, the
way ``action_sign`` runs for an HTTP request, inside ``odoo shell`` under ``cProfile``; the
copy is dropped afterwards. The same work runs in an Odoo worker; the split is what counts.

    python3 bench/profile_signature.py            # 6 signatures (the first is not profiled)
    python3 bench/profile_signature.py --count 11
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402
import bench_load as load  # noqa: E402
from _server import Env, log  # noqa: E402

PROFILE = """
import cProfile, pstats, time
user = env["res.users"].search([("login", "=", "bench.ra01")])
lots = env["stock.lot"].search([("name", "=like", "BENCH-F-%%"),
                                ("esign_release_state", "!=", "released")], limit={count})
uenv = env(user=user.id, context=dict(env.context, lang="en_US"))
prof = cProfile.Profile()
walls = []
commits = []
for i, lot in enumerate(lots):
    action = uenv["stock.lot"].browse(lot.id).action_esign_sign()
    wizard = uenv["esign.sign.wizard"].browse(action["res_id"])
    wizard.write({{"login": "bench.ra01", "reason": "Profiled release."}})
    env.flush_all()
    started = time.perf_counter()
    if i:
        prof.enable()
    wizard.action_sign(password="bench.ra01")
    env.flush_all()
    signed = time.perf_counter()
    env.cr.precommit.run()  # what the commit of the request would run (tracking messages)
    env.flush_all()
    if i:
        prof.disable()
        walls.append(time.perf_counter() - started)
        commits.append(time.perf_counter() - signed)
env.cr.rollback()
stats = pstats.Stats(prof)
total = sum(walls)
def inclusive(*needles):
    best = 0.0
    for (filename, _line, name), row in stats.stats.items():
        if any(n == name or n in filename + ":" + name for n in needles):
            best = max(best, row[3])
    return best
parts = [
    ("PBKDF2 password check (_check_credentials)", inclusive("_check_credentials")),
    ("PKI signature (keystore + CMS)", inclusive("sign_detached")),
    ("TSA round trip (request_timestamp)", inclusive("request_timestamp")),
    ("audit trail append", inclusive("_append_entries", "_append")),
    ("to-dos done / scheduled", inclusive("_done_activities") + inclusive("_schedule_activities")),
    ("tracking message + signature note (precommit)", sum(commits)),
]
n = len(walls)
print("PROFILE signatures %d, wall %.0f ms each (profiled)" % (n, 1000 * total / n))
for label, seconds in parts:
    print("PROFILE   %-48s %7.1f ms  %5.1f %%"
          % (label, 1000 * seconds / n, 100 * seconds / total))
stats.sort_stats("cumulative").print_stats(45)
stats.sort_stats("tottime").print_stats(25)
print("MEDDEV-DONE")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    env = Env()
    db = f"{_server.BENCH_DB_PREFIX}_profile"
    try:
        template = env.esign_template(load.setup_esign_script())
        env.clone(template, db)
        env.set_tsa(db, url=env.tsa.url)
        log(f"profiling {args.count - 1} signatures")
        out = env.shell(db, PROFILE.format(count=args.count))
        print("\n".join(line for line in out.splitlines() if line != "MEDDEV-DONE"))
    finally:
        env.cluster.drop_db(db)
        env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
