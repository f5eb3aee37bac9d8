"""Loop 2, evaluation: metrics of a window × cohort computed from its profile, each with an interval.

``bins`` reads a binning's score edges (lower edges, a representative score per
bin, where a threshold falls); ``metrics`` holds :class:`~loopwatch.evaluation.metrics.Metric`
and the ranking and threshold metrics; ``calibration`` the reliability curve and
the expected calibration error; ``value`` the business value of the decisions;
``profile_metrics`` computes all of them for one profile. ``maturity`` says
whether a window's labels have arrived; ``comparison`` tests each cohort's
metrics against the reference (findings of kind ``performance``); ``fairness``
the largest gaps between cohorts; ``label_free`` estimates metrics from scores
alone; ``report`` is the evaluate job that puts them together.
"""
