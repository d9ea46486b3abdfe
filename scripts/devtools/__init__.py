"""The developer tools behind ``scripts/dev.py``, one module per idea.

Standard library only (a module may import an installed package inside the function that
needs it, once :mod:`devtools.install` has installed it), so ``scripts/dev.py`` runs before
anything is installed:

* :mod:`devtools.common`: the paths, ``say``/``run`` and :class:`~devtools.common.DevError`;
* :mod:`devtools.install`: Debian packages, the pinned Python environment, wkhtmltopdf;
* :mod:`devtools.odoo`: finding (or fetching) Odoo 18.0 and the command line that runs it;
* :mod:`devtools.cluster`: the private PostgreSQL cluster in ``.state/``;
* :mod:`devtools.demo`: serving the demo;
* :mod:`devtools.suites`: the three test suites and their summary;
* :mod:`devtools.i18n`: exporting the ``.pot`` and merging ``zh_CN.po``.
"""
