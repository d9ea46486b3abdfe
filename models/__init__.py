from . import esign_meaning, product_template
