"""Resolve ``extends``/``override``/``remove``/``extend`` into one effective rulebook.

:mod:`.resolver` walks the bases and applies a rulebook's own statements;
:mod:`.extension` applies ``extend eligibility`` and finds what an ``override`` drops.
Takes the model (:mod:`marginlex.dsl.model`) and hands on a :class:`ResolvedRulebook`; must
not import the checker, the loader or anything above them.
"""

from marginlex.dsl.resolve.resolver import Finder, ResolvedRulebook, resolve

__all__ = ["Finder", "ResolvedRulebook", "resolve"]
