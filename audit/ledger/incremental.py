"""``run --since RUN``: the book cut to the margin sets that may have changed, and the earlier
decisions carried forward beside the sets decided again.

The earlier run's book digest (stored when it was recorded) and today's are compared key by
key (:func:`marginlex.engine.distributed.digests.accounts_to_decide`); a book recorded
before digests is read back and compared with today's row by row
(:func:`marginlex.engine.distributed.changed.accounts_to_decide`, each read back from its
book blob, so both alike). Only today's components of the account graph that hold a changed
account are evaluated (:func:`~marginlex.engine.distributed.changed.cut_book`). Within them,
a set whose input hash equals the earlier one is carried (:mod:`.carry`); every earlier set
whose accounts all lie outside them, and are all in today's book, is carried without being
evaluated. A rulebook is evaluated on the whole book when its sets cannot be carried at all
(:meth:`.carry.Since.why_all`), when the earlier run recorded no input hashes for it, or
when the earlier book is not recorded, its currency differs or a relation changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marginlex.audit.ledger.carried_entries import CarriedEntries
from marginlex.audit.ledger.carry import Since, SinceError, carry_entries
from marginlex.audit.ledger.recorded_inputs import RecordedInputError, blob_frames
from marginlex.audit.trace.model import RulebookRef
from marginlex.engine.book.load import Book
from marginlex.engine.distributed.changed import accounts_to_decide, cut_book
from marginlex.engine.distributed.digests import BookDigest
from marginlex.engine.distributed.digests import accounts_to_decide as by_digests

OTHER_ESCAPE = r'(?:^|[^\\])(?:\\\\)*\\[^"\\]'
"""An escape in a canonical JSON list of ids (an odd backslash, after any escaped ones)
other than ``\\"`` and ``\\\\``: a control character's (``\\n``, ``\\u001b``), which a book
recorded before ids were checked for them may hold. Where none is, '","' only ever
separates two ids (a quote inside one is escaped) and :data:`UNESCAPE` reads each back (a
book with an id holding a quote or a backslash, ``say "hi"``, ``back\\slash``, was
evaluated whole by every run ``--since``)."""

UNESCAPE = r"\\(.)"
"""An escaped quote or backslash, read back as the character it escapes."""


class Incremental:
    """What a ``--since`` run evaluates, rulebook by rulebook, and what it carries unseen."""

    def __init__(
        self,
        since: Since,
        book: Book,
        today: tuple[BookDigest, Callable[[], bytes]],
        engine: tuple[str, str],
    ) -> None:
        """``book`` is today's book, ``today`` its digest and a maker of its recorded bytes
        (read only when the earlier book has no digest), ``engine`` the engine's version and
        code sha256."""
        self.since = since
        self.book = book
        self.engine = engine
        digest, blob = today
        if since.digest is not None:  # the earlier book's digest: compared with today's
            self.accounts = by_digests(since.digest, digest, book.contract_frames())
        else:  # a book recorded before digests: both books compared row by row
            self.accounts = self._accounts_to_decide(blob())
        self.cut = book if self.accounts is None else cut_book(book, self.accounts)

    def _accounts_to_decide(self, blob: bytes) -> pd.Index | None:
        if self.since.book is None:
            return None
        try:
            before_meta, before = blob_frames(self.since.book)
        except RecordedInputError as exc:
            raise SinceError(f"--since {self.since.run_id}: its recorded book: {exc}") from exc
        after_meta, after = blob_frames(blob)
        if before_meta.get("currency") != after_meta.get("currency") or set(before) != set(after):
            return None
        return accounts_to_decide(before, after)

    def book_for(self, rulebook: tuple[str, str], as_of: date) -> Book:
        """The book to evaluate a rulebook (its id and sha256) on: the cut, or the whole
        book when no set of it can be carried unseen."""
        if self.accounts is None or self.since.why_all(as_of, rulebook, self.engine):
            return self.book
        earlier = self.since.earlier(rulebook[0])
        ids = earlier["account_ids"].astype("str")
        if earlier["inputs_sha256"].isna().any() or ids.str.contains(OTHER_ESCAPE).any():
            return self.book  # no hashes to compare; or an id escaped otherwise than below
        return self.cut

    def outside(self, ref: RulebookRef, as_of: date) -> tuple[CarriedEntries, pd.Index]:
        """The entries carrying forward every earlier set of ``ref``'s rulebook whose accounts
        are all today's and outside the cut (in margin set id order), and those accounts."""
        earlier = self.since.earlier(ref.id)
        text = pa.array(earlier["account_ids"].astype("str").to_numpy(dtype=object), pa.string())
        lists = pc.split_pattern(pc.utf8_slice_codeunits(text, 2, -2), '","')
        members = pc.replace_substring_regex(pc.list_flatten(lists), UNESCAPE, r"\1")
        parent = np.asarray(pc.list_parent_indices(lists))
        today = pa.array(self.book.accounts["account_id"].astype("str").to_numpy(dtype=object))
        if self.accounts is not None:
            cut = pa.array(self.accounts.astype("str").to_numpy(dtype=object), pa.string())
            today = today.filter(pc.invert(pc.is_in(today, value_set=cut)))
        kept = np.asarray(pc.is_in(members, value_set=today.cast(pa.string())))
        whole = np.bincount(parent[~kept], minlength=len(earlier)) == 0
        set_ids = np.sort(earlier.index.to_numpy(dtype=str)[whole])
        entries = carry_entries(earlier, set_ids, ref, (self.book.sha256, as_of))
        accounts = members.filter(pa.array(whole[parent])).to_numpy(zero_copy_only=False)
        return entries, pd.Index(accounts, dtype=object).unique()
