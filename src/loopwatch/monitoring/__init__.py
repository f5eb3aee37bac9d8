"""Monitoring loop: checks that need no labels (and the performance check, once labels mature).

``checks`` is the extension point (``CheckContext``, ``@register_check``); the
built-in checks are ``schema``, ``health``, ``drift_check`` (with the statistics
of ``drift``), ``coverage``, ``volume``, ``system`` and ``performance``;
``impact`` measures importance and what a change does to decisions, which sets
severity; ``significance`` holds the shared tests; ``job`` runs them all for a
window (``run_checks``), as ``loopwatch check`` does.
"""
