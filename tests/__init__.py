from . import test_foundation, test_signing
