from . import (
    esign_meaning,
    esign_policy,
    esign_request,
    esign_signable_mixin,
    esign_signature,
    mrp_production,
    product_template,
    purchase_order,
    res_users,
    stock_lot,
    stock_picking,
)
