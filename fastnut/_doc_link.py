"""Link from an estimator's HTML representation to its page in the API reference.

scikit-learn's ``estimator_html_repr`` (what a notebook shows for an estimator)
draws a "?" icon that opens the estimator's documentation. It takes the address
from two class attributes, ``_doc_link_module`` and ``_doc_link_template``;
every public fastnut estimator inherits them from :class:`DocLinkMixin`.
"""

#: Root of the published documentation site (built from ``docs/``).
DOCS_URL = "https://fastnut.readthedocs.io/en/latest/"


class DocLinkMixin:
    """Point the HTML repr's documentation link at fastnut's API reference.

    Every public estimator is importable from ``fastnut`` itself, and the API
    reference has one page per estimator, ``api/generated/fastnut.<Name>.html``.
    """

    _doc_link_module = "fastnut"
    _doc_link_template = DOCS_URL + "api/generated/fastnut.{estimator_name}.html"
