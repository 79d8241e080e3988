"""``shipyard demo``: the main job, run on embedded defaults.

It walks the lifecycle as far as Shipyard reaches today, one module per stage:
:mod:`.lifecycle` (data, sweep, search, registry, loading), :mod:`.serving`
(serving the production model, traffic, ground truth), :mod:`.monitoring` (drift,
performance, alerts, report), :mod:`.retrain` (the retraining pipeline, cached
re-run) and the closing audit trail, lineage and card. :mod:`.command` orders them.
"""

from shipyard.cli.demo.command import demo

__all__ = ["demo"]
