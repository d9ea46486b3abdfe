from . import esign_reject_wizard, esign_sign_wizard
