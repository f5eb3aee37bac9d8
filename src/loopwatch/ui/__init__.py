"""The dashboard (``loopwatch ui``): incidents first, then models, health, cohorts, flags and the audit log.

Server-rendered HTML (Starlette and Jinja2; no JavaScript, no build step, every
asset served by the dashboard itself), token sign-in with two roles (``read``,
``operator``; :mod:`.auth`), and operators' actions through the control plane so
that each is audited under the user's name. Needs the ``ui`` extra.
"""

from loopwatch.ui.app import create_app
from loopwatch.ui.auth import Sessions, Tokens, User

__all__ = ["Sessions", "Tokens", "User", "create_app"]
