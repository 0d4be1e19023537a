"""One router per page (runs, decisions, a decision, account history, rulebooks, verify,
the workbench)."""

from __future__ import annotations

from fastapi import APIRouter

from marginlex.console.pages import (
    accounts,
    decision,
    decisions,
    rulebooks,
    runs,
    verify,
    workbench,
)

ROUTERS: tuple[APIRouter, ...] = (
    runs.router,
    decisions.router,
    decision.router,
    accounts.router,
    rulebooks.router,
    verify.router,
    workbench.router,
)
