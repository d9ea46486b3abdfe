from . import crl
