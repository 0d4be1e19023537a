"""Variants: several rulebooks on one book, what differs, and rulebook tests.

``compare`` (per account and set), ``figures`` (per-account cents), ``attribution`` and
``attribution_pool`` (which rule caused each delta), ``compare_json`` and ``report`` (JSON and
HTML renderings), ``study/`` (the impact study of ``compare --study``: segments, Shapley
values, calls under stress), ``rulebook_tests`` and ``coverage`` (``marginlex test``). Takes
resolved rulebooks and a book; hands out comparisons and test results. Must not import the
audit trail.
"""
