"""Batch scoring: a registered model over a dataset version, into a new dataset version.

>>> import shipyard
>>> result = shipyard.batch_predict("models:/churn@production", "ds:customers@3",   # doctest: +SKIP
...                                 "ds:customers-scored", executor="ray")
>>> result.output.uri, result.rows_per_s, result.rejects_uri                         # doctest: +SKIP

The input is read in Arrow record batches, a unit of row groups at a time, by local
worker processes or Ray tasks; each batch meets the model's signature checks row by
row (bad rows go to the run's ``rejects.jsonl`` with their index and reason), and each
unit's scored rows are appended to its own Parquet part, so memory stays bounded by a
few batches per worker. The parts become a new version of the output dataset, and the
scoring run records throughput, counts and lineage: input version ─input→ run
─produced→ output version, model version ─served→ output version.

It sits above the client (beside :mod:`shipyard.data`): it joins four domains —
datasets, the registry's verified model loading, tracking and lineage — that meet only
in :class:`shipyard.Client`. Ray is the ``ray`` extra.
"""

from shipyard.scoring._batch import BatchPrediction, batch_predict

__all__ = ["BatchPrediction", "batch_predict"]
