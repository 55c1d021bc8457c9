"""The SQLite ledger: the single source of truth for drafts, votes, publications and their history."""

from storage.ledger import Ledger

__all__ = ["Ledger"]
