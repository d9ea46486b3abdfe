from . import crl, verify
