"""Evaluation on a Dask distributed cluster (``marginlex run --dask``).

Holds the book's partitioning (:mod:`.partition`: the account graph's components, packed
into partitions, so that no margin set spans two), the merge of the partitions' evaluations
back into the single-process order (:mod:`.merge`), the cluster side (:mod:`.cluster`: the
client, shipping a rulebook and a partition's rows to a worker, gathering) and what a worker
runs, which must be the client's code (:mod:`.worker_code`). Takes a book and resolved
rulebooks; hands on one :class:`~marginlex.engine.evaluation.Evaluation` per rulebook, equal
to a single-process run's. Only :mod:`.cluster` and :mod:`.worker_code` import dask, and
only when called; nothing here imports the audit layer (a caller passes the work the
workers do after evaluating, e.g. building traces, as a function).
"""
