"""Market stress over a book: shocks, re-pricing, and the decisions they change.

``shocks`` (the typed shock model, its text syntax and TOML scenario files), ``reprice``
(a shocked copy of a book: instruments, options by Black-Scholes, collateral), ``batch``
(several shocked books evaluated as one stacked book), ``impact`` (calls created and grown,
eligibility lost, totals, most affected sets) and ``report`` (JSON and HTML with SVG plots).
Takes a book, resolved rulebooks and scenarios; hands out a :class:`StressResult`. Must not
import the audit trail.
"""
