"""Swagger UI's files (swagger-ui-dist 5.35.0 from npm, unchanged; Apache-2.0, see ``LICENSE``,
``NOTICE`` and ``swagger-ui-bundle.js.LICENSE.txt``), so ``/docs`` works with no network.

:mod:`omnidex.server.routes.api_docs` serves them. To update: ``npm pack swagger-ui-dist@5``
and copy the same files from its ``package/`` folder.
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).parent
"""The folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``favicon-32x32.png``."""
