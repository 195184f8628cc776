"""A plan's user limit (max_users), enforced by Odoo in every database without installing
anything in it: base's res.users class is patched when Odoo loads this server-wide module, so
every registry's res.users (built on it) watches.

What counts is what Odoo Online counts: active internal users (share = False; portal and public
users are share = True; the inactive __system__ and template users do not count).

A user becomes an active internal one in many ways: created, unarchived, given groups from its
own form, or from a group's side (a group's users, a new group implying "Internal User") that
never calls res.users' create or write. Every one of them goes through res.users' create,
write or the recomputation of `share`; each of those marks the transaction, and the check runs
once, just before it commits (a precommit hook, after Odoo flushed everything): when the
database would then hold more active internal users than the limit, and more than it holds
committed (read on a second connection), a UserError ends the transaction (the web client shows
it; nothing is written). So a tenant already over its limit (a plan lowered) keeps its users and
may still edit or swap them; only a net new seat is refused. Two administrators taking the last
seat in the same instant may both succeed (each transaction sees the other's user only once it
committed). Databases without a limit pay one dict lookup per change of a user.
"""

from __future__ import annotations

import functools
import logging
from contextlib import closing
from typing import Any

import odoo.sql_db
from odoo import api
from odoo.exceptions import UserError

from .catalog_cache import CatalogCache

_logger = logging.getLogger(__name__)

MARK = "odoo_saas_max_users"  # in cr.precommit.data: this transaction is checked before commit
COUNT = "SELECT count(*) FROM res_users WHERE active AND NOT share"


def message(limit: int, count: int) -> str:
    return (
        f"Your plan allows {limit} active internal user{'s' if limit != 1 else ''}; this would "
        f"make {count}. Archive an internal user, make this one a portal user, or upgrade your "
        "plan. Portal users are not limited."
    )


def install(cache: CatalogCache) -> None:
    from odoo.addons.base.models.res_users import ResUsers  # base's own class, under every one

    def limit_of(dbname: str) -> int | None:
        found = cache.tenant(dbname)
        return found.max_users if found is not None else None

    def check(cr: Any) -> None:
        """Before commit: refuse a net new seat beyond the limit."""
        limit = limit_of(cr.dbname)
        if limit is None:
            return
        cr.execute(COUNT)
        (after,) = cr.fetchone()
        if after <= limit:
            return
        with closing(odoo.sql_db.db_connect(cr.dbname).cursor()) as committed:
            committed.execute(COUNT)
            (before,) = committed.fetchone()
        if after > before:
            raise UserError(message(limit, after))

    def watch(records: Any) -> None:
        """The transaction changed users: check it before it commits (once)."""
        cr = records.env.cr
        if cr.precommit.data.get(MARK) or limit_of(cr.dbname) is None:
            return
        cr.precommit.data[MARK] = True
        cr.precommit.add(functools.partial(check, cr))

    original_create = ResUsers.create
    original_write = ResUsers.write
    original_compute_share = ResUsers._compute_share

    @api.model_create_multi
    def create(self: Any, vals_list: list[dict]) -> Any:
        users = original_create(self, vals_list)
        watch(self)
        return users

    def write(self: Any, vals: dict) -> Any:
        result = original_write(self, vals)
        watch(self)
        return result

    @functools.wraps(original_compute_share)  # keeps its @api.depends
    def _compute_share(self: Any) -> None:
        original_compute_share(self)
        watch(self)

    ResUsers.create = create
    ResUsers.write = write
    ResUsers._compute_share = _compute_share
    _logger.info("plans' user limits are enforced on res.users")
