from . import (
    test_audit,
    test_audit_tamper,
    test_audit_tour,
    test_concurrency,
    test_foundation,
    test_pki,
    test_qms,
    test_release_certificate,
    test_scenario_change_tour,
    test_scenario_tours,
    test_session_window,
    test_signing,
)
