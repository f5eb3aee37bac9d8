"""The HTML report and the model inventory: what a person reads first about one model.

:func:`write_report` writes one self-contained HTML file (inline SVG, no script,
nothing fetched) from the stored profiles and the control plane;
:mod:`.inventory` gives the model's "day 1–2 baseline".
"""

from loopwatch.report.build import DEFAULT_DAYS, gather, render_report, write_report

__all__ = ["DEFAULT_DAYS", "gather", "render_report", "write_report"]
