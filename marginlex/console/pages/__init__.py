"""One router per page (runs, decisions, a decision, account history, rulebooks, verify)."""

from __future__ import annotations

from fastapi import APIRouter

from marginlex.console.pages import accounts, decision, decisions, rulebooks, runs, verify

ROUTERS: tuple[APIRouter, ...] = (
    runs.router,
    decisions.router,
    decision.router,
    accounts.router,
    rulebooks.router,
    verify.router,
)
