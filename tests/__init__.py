from . import test_foundation, test_release_certificate, test_signing
