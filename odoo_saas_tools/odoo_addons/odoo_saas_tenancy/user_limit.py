"""A plan's user limit (max_users), enforced by Odoo in every database without installing
anything in it: base's res.users class is patched when Odoo loads this server-wide module, so
every registry's res.users (built on it) checks.

What counts is what Odoo Online counts: active internal users (share = False; portal and public
users are share = True; the inactive __system__ and template users do not count). A create, an
unarchive or a change of groups that would make an internal user active beyond the limit
raises a UserError (the web client shows it; the transaction is rolled back). A tenant already
over its limit (a plan lowered) keeps its users and may still edit them; only a user becoming
an active internal one is refused. Databases without a limit pay one dict lookup per write.
"""

from __future__ import annotations

import logging
from typing import Any

from odoo import api
from odoo.exceptions import UserError

from .catalog_cache import CatalogCache

_logger = logging.getLogger(__name__)


def message(limit: int, count: int) -> str:
    return (
        f"Your plan allows {limit} active internal user{'s' if limit != 1 else ''}; this would "
        f"make {count}. Archive an internal user, make this one a portal user, or upgrade your "
        "plan. Portal users are not limited."
    )


def _internal_ids(users: Any) -> set[int]:
    """The active internal users among users (read as superuser, whatever the caller sees)."""
    users = users.sudo().with_context(active_test=False)
    return {user.id for user in users if user.active and not user.share}


def _check(model: Any, users: Any, before: set[int], limit: int) -> None:
    """Refuse if users gained an active internal user and there are now more than limit."""
    if not _internal_ids(users) - before:
        return
    count = model.sudo().with_context(active_test=True).search_count([("share", "=", False)])
    if count > limit:
        raise UserError(message(limit, count))


def install(cache: CatalogCache) -> None:
    from odoo.addons.base.models.res_users import ResUsers  # base's own class, under every one

    def limit_of(records: Any) -> int | None:
        found = cache.tenant(records.env.cr.dbname)
        return found.max_users if found is not None else None

    original_create = ResUsers.create
    original_write = ResUsers.write

    @api.model_create_multi
    def create(self: Any, vals_list: list[dict]) -> Any:
        users = original_create(self, vals_list)
        limit = limit_of(self)
        if limit is not None:
            _check(self, users, set(), limit)
        return users

    def write(self: Any, vals: dict) -> Any:
        limit = limit_of(self)
        if limit is None:
            return original_write(self, vals)
        before = _internal_ids(self)
        result = original_write(self, vals)
        _check(self, self, before, limit)
        return result

    ResUsers.create = create
    ResUsers.write = write
    _logger.info("plans' user limits are enforced on res.users")
