"""The Studio: the web UI's static files (HTML, CSS, JavaScript ES modules), served at ``/studio``.

No build step and nothing fetched from elsewhere: the files here are the whole UI. Everything it
shows comes from the ``/v1`` API, called with the key the user enters once (kept in the browser's
``sessionStorage``, sent as ``Authorization: Bearer``). :mod:`omnidex.server.routes.studio`
serves them.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent
"""The folder holding ``index.html``, ``studio.css`` and ``js/``."""
