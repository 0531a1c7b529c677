"""Write transactions that wait for their turn and retry when another writer wins.

Every write function of the store is wrapped by :func:`retrying_write`: on SQLite it
opens the transaction with ``BEGIN IMMEDIATE`` (taking the write lock at once, waiting
up to the busy timeout for it), and on a transient conflict (SQLite "database is
locked", PostgreSQL serialization failure or deadlock) it rolls back and runs the whole
function again after a short, jittered pause. Write functions therefore start from
ids, not from objects loaded earlier, and commit before they return.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from advisor.store.database import SQLITE_BEGIN_OPTION

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: Attempts of one write before the conflict is raised.
WRITE_ATTEMPTS = 8
_FIRST_PAUSE_S = 0.05
_MAX_PAUSE_S = 2.0
_FLUSHED = "advisor.store.flushed"
_WATCHED = "advisor.store.watched"
_TRANSIENT_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock detected


def is_transient(exc: DBAPIError) -> bool:
    """Whether a database error is a conflict with another writer worth retrying."""
    if getattr(exc.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def end_read_transaction(session: Session) -> None:
    """End a transaction that wrote nothing, without expiring the rows the caller holds.

    A long task (hashing a sample, copying files) must not keep a transaction open:
    on SQLite that would hold a read snapshot, or the write lock.
    """
    if not session.in_transaction():
        return
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def has_writes(session: Session) -> bool:
    """Whether the session's transaction holds changes, pending or already flushed."""
    _watch_flushes(session)
    return bool(session.new or session.dirty or session.deleted or session.info.get(_FLUSHED))


def abandon(session: Session) -> None:
    """End the session's transaction after an error: roll back only if it wrote."""
    if has_writes(session):
        session.rollback()
    else:
        try:
            end_read_transaction(session)
        except DBAPIError:
            session.rollback()


def _watch_flushes(session: Session) -> None:
    if session.info.get(_WATCHED):
        return
    event.listen(session, "after_flush", _mark_flushed)
    event.listen(session, "after_transaction_end", _clear_flushed)
    session.info[_WATCHED] = True


def _mark_flushed(session: Session, flush_context: object) -> None:
    session.info[_FLUSHED] = True


def _clear_flushed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info[_FLUSHED] = False


def begin_write(session: Session) -> None:
    """Open the session's transaction for writing.

    A transaction that only read is ended first (nothing is lost), so that on SQLite
    the write transaction starts with ``BEGIN IMMEDIATE``: it waits for the write lock
    instead of failing when it finds its read snapshot outdated. A transaction that
    holds changes is kept.
    """
    if session.in_transaction():
        if has_writes(session):
            return
        end_read_transaction(session)
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def retrying_write(
    fn: Callable[Concatenate[Session, _P], _T],
) -> Callable[Concatenate[Session, _P], _T]:
    """Decorate a write function taking the session first (see the module docstring).

    On any error the session's transaction is ended, so the session stays usable; it is
    rolled back only where something was written (a rollback expires every row the
    caller holds).
    """

    @functools.wraps(fn)
    def wrapper(session: Session, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        pause = _FIRST_PAUSE_S
        attempt = 1
        while True:
            try:
                begin_write(session)
                return fn(session, *args, **kwargs)
            except DBAPIError as exc:
                session.rollback()
                if not is_transient(exc) or attempt >= WRITE_ATTEMPTS:
                    raise
            except BaseException:
                abandon(session)
                raise
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, _MAX_PAUSE_S)
            attempt += 1

    return wrapper
