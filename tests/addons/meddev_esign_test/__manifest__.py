{
    "name": "Medical Device E-Signatures: test models",
    "summary": "A throw-away signable document, to test esign.signable.mixin on its own.",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "license": "LGPL-3",
    "author": "meddev_esign",
    "depends": ["meddev_esign"],
    "data": ["security/ir.model.access.csv", "views/test_document_views.xml"],
    "assets": {
        "web.assets_tests": ["meddev_esign_test/static/tests/tours/*"],
    },
    "installable": True,
}
