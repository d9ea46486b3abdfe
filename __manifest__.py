{
    "name": "Medical Device E-Signatures",
    "summary": "21 CFR Part 11 / EU GMP Annex 11 electronic signatures on quality, "
    "purchase and manufacturing records",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Quality",
    "author": "meddev_esign developers",
    "website": "https://github.com/meddev-esign/meddev_esign",
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": [
        "mail",
        "product",
        "stock",
        "mrp",
        "purchase",
        "auth_totp",
        # lot expiry dates feed the UDI's (17) and the release certificate
        "product_expiry",
    ],
    "external_dependencies": {
        "python": [
            "cryptography>=49",
            "pyhanko>=0.35",
            "lxml>=5.4",
            "qrcode",
            "zint-bindings",
            "biip",
        ],
    },
    "data": [
        "security/esign_groups.xml",
        "security/ir.model.access.csv",
        "data/esign_meaning_data.xml",
        "views/esign_meaning_views.xml",
        "views/product_template_views.xml",
        "views/esign_menus.xml",
    ],
    "demo": [
        "demo/esign_demo_users.xml",
        "demo/esign_demo_products.xml",
        "demo/esign_demo_operations.xml",
    ],
    "images": ["static/description/icon.png"],
    "application": True,
    "installable": True,
}
