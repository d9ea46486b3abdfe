from . import test_change_reason_tour, test_mixin
