"""Plans: what a hoster sells, declared in a YAML file the hoster owns (ODOO_SAAS_PLANS_FILE).

    plans:
      starter:
        modules: [crm, sale_management]   # installed at provisioning and by a plan change
        lang: fr_BE                       # defaults of a new tenant (--lang/--country win)
        country: BE
        max_users: 3                      # active internal users, enforced inside Odoo
        max_storage_mb: 2048              # database + filestore: a metric, an event
        suspend_over_storage: false       # ... and a suspension when true
        trial_days: 14                    # suspended (with an event) when the trial ends

Every field is optional; a plan without limits has none. Without a file there is one plan,
`default`, with no limits; with one, `default` is the file's if it declares it, else that same
unlimited plan (tenants made by `db create`, a restore or a clone are on it).

The file is read and validated here only (one line naming the plan and field that is wrong),
again whenever it changes. The limits Odoo and the exporter need are mirrored into the catalog
(catalog.plans) by every operation that reads the plans, and by the lifecycle loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odoo_saas_tools.catalog import plans as catalog_plans
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.catalog.tenants import DEFAULT_PLAN, NewTenant
from odoo_saas_tools.control import events
from odoo_saas_tools.control.errors import NotFound
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import modules as tenant_modules
from odoo_saas_tools.tenants import provision as tenant_provision
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.create import spec_for
from odoo_saas_tools.tenants.identity import tenant_label

log = logging.getLogger(__name__)

DEFAULT = DEFAULT_PLAN
VARIABLE = "ODOO_SAAS_PLANS_FILE"
MAX_FILE_BYTES = 1024 * 1024
PLAN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MODULE_NAME = tenant_modules.MODULE_NAME
LANG_CODE = re.compile(r"[a-z]{2,3}(_[A-Z0-9]{2,3})?(@[a-z]+)?")  # en_US, es_419, sr@latin
COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class Plan:
    name: str
    modules: tuple[str, ...] = ()
    lang: str | None = None
    country: str | None = None
    max_users: int | None = None
    max_storage_mb: int | None = None
    trial_days: int | None = None
    suspend_over_storage: bool = False

    def public(self) -> dict[str, Any]:
        """As the CLI and the API show it."""
        return {**dataclasses.asdict(self), "modules": list(self.modules)}


FIELDS = tuple(f.name for f in dataclasses.fields(Plan) if f.name != "name")
_cache: dict[str, tuple[tuple[int, int, int], dict[str, Plan]]] = {}
_mirrored: set[tuple[object, ...]] = set()  # (catalog, file state) this process mirrored


# --- reading and validating the file ----------------------------------------------------------
def available(settings: Settings) -> dict[str, Plan]:
    """Every plan by name (`default` always among them); read again when the file changed."""
    if not settings.plans_file:
        return {DEFAULT_PLAN: Plan(DEFAULT_PLAN)}
    path = Path(settings.plans_file)
    try:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = _cache.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
        if st.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{VARIABLE} {path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{VARIABLE} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{VARIABLE} {path}: not UTF-8 text") from None
    plans = parse(text, f"{VARIABLE} {path}")
    _cache[str(path)] = (key, plans)
    return plans


def parse(text: str, source: str) -> dict[str, Plan]:
    """The plans text declares; ConfigError with one line naming the plan and field."""
    import yaml  # only where a plans file is used

    class UniqueKeys(yaml.SafeLoader):
        """A name given twice is an error, not the last one silently winning."""

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{source}: line {line}: {key!r} is given twice")
            seen.add(key)
        return loader.construct_mapping(node)

    UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        data = yaml.load(text, Loader=UniqueKeys)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: not valid YAML ({where}{problem})") from None
    if not isinstance(data, dict) or set(data) != {"plans"} or not isinstance(data["plans"], dict):
        raise ConfigError(f"{source}: expected one key, `plans:`, mapping plan names to plans")
    plans: dict[str, Plan] = {}
    for name, body in data["plans"].items():
        plan = _plan(name, body, source)
        plans[plan.name] = plan
    if not plans:
        raise ConfigError(f"{source}: `plans:` declares no plan")
    plans.setdefault(DEFAULT_PLAN, Plan(DEFAULT_PLAN))
    return plans


def _plan(name: object, body: object, source: str) -> Plan:
    if not isinstance(name, str) or not PLAN_NAME.fullmatch(name):
        raise ConfigError(
            f"{source}: plan name {name!r} is not valid: lower-case letters, digits, _ and -, "
            "starting with a letter or digit, at most 63"
        )
    where = f"{source}: plan {name}"
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: expected a mapping of fields ({', '.join(FIELDS)})")
    for field in body:
        if field not in FIELDS:
            raise ConfigError(f"{where}: unknown field {field!r} (fields: {', '.join(FIELDS)})")
    values: dict[str, Any] = {"name": name}
    modules = body.get("modules", [])
    if not isinstance(modules, list) or not all(
        isinstance(m, str) and MODULE_NAME.fullmatch(m) for m in modules
    ):
        raise ConfigError(f"{where}: modules must be a list of module names, e.g. [crm, sale]")
    values["modules"] = tuple(sorted(set(modules)))
    for field, pattern, example in (
        ("lang", LANG_CODE, "fr_BE"),
        ("country", COUNTRY_CODE, "BE"),
    ):
        value = body.get(field)
        if value is not None and not (isinstance(value, str) and pattern.fullmatch(value)):
            raise ConfigError(f"{where}: {field} {value!r} is not valid (e.g. {example})")
        values[field] = value.upper() if field == "country" and value else value
    for field in ("max_users", "max_storage_mb", "trial_days"):
        value = body.get(field)
        # YAML's true is an int to Python: refuse it as a number
        if value is not None and (type(value) is not int or not 1 <= value <= 10**9):
            raise ConfigError(
                f"{where}: {field} must be a whole number from 1 (or left out: no limit), "
                f"not {value!r}"
            )
        values[field] = value
    suspend = body.get("suspend_over_storage", False)
    if not isinstance(suspend, bool):
        raise ConfigError(f"{where}: suspend_over_storage must be true or false, not {suspend!r}")
    if suspend and values["max_storage_mb"] is None:
        raise ConfigError(f"{where}: suspend_over_storage needs max_storage_mb")
    values["suspend_over_storage"] = suspend
    return Plan(**values)


def get(settings: Settings, name: str | None) -> Plan:
    """The plan called name (None: `default`); ConfigError naming the plans there are."""
    plans = available(settings)
    if (name or DEFAULT) not in plans:
        raise ConfigError(f"unknown plan {name!r} (plans: {', '.join(sorted(plans))})")
    return plans[name or DEFAULT]


# --- the catalog's copy of the limits ---------------------------------------------------------
def mirror(settings: Settings, *, force: bool = False) -> bool:
    """The catalog's plan rows say what the file says; whether they changed (Odoo was told).
    Skipped when this process already mirrored the file as it is now (unless force)."""
    plans = available(settings)
    key = (store.NAME, settings.db_host, settings.db_port, tuple(sorted(plans.items())))
    if key in _mirrored and not force:
        return False
    limits = [catalog_plans.Limits(p.name, p.max_users, p.max_storage_mb) for p in plans.values()]
    with store.session(settings) as cr:
        changed = catalog_plans.mirror(cr, limits)
        if changed:
            store.bump(cr)
    _mirrored.add(key)
    return changed


def undeclared_in_use(settings: Settings) -> dict[str, int]:
    """Plans gone from the file that tenants are still on (they keep its last limits)."""
    with store.session(settings) as cr:
        return catalog_plans.undeclared_in_use(cr)


# --- operations -------------------------------------------------------------------------------
def provision(
    settings: Settings,
    db: str,
    setup: tenant_setup.Setup,
    *,
    plan: str | None = None,
    modules: tuple[str, ...] = (),
    demo: bool = False,
    rebuild_template: bool = False,
    now: dt.datetime | None = None,
) -> dict:
    """Provision the tenant database db (tenants.provision.tenant_database) on plan (None:
    `default`): the plan's modules besides modules and PROVISION_MODULES, its language and
    country unless setup names them, its limits and its trial's end recorded with the tenant.
    The one provisioning there is (tenants.provision), with the plan as its input."""
    chosen = get(settings, plan)
    lang = setup.lang or chosen.lang or "en_US"
    setup = dataclasses.replace(setup, lang=lang, country=setup.country or chosen.country)
    spec = spec_for((*modules, *chosen.modules, *settings.provision_modules), lang, demo)
    now = now or dt.datetime.now(dt.timezone.utc)
    trial_ends = now + dt.timedelta(days=chosen.trial_days) if chosen.trial_days else None
    # the plan's limits go with the tenant's row (one catalog session, beside the copy)
    limits = catalog_plans.Limits(chosen.name, chosen.max_users, chosen.max_storage_mb)
    result = tenant_provision.provision(
        settings,
        db,
        spec,
        setup,
        rebuild_template=rebuild_template,
        entry=NewTenant(chosen.name, trial_ends, limits),
    )
    if result["created"]:
        result = {**result, "plan": chosen.name, "trial_ends_at": trial_ends}
    return result


def change(settings: Settings, name: str, plan: str) -> dict:
    """Put the tenant whose database is name on plan: the plan's modules it lacks installed
    first (nothing changes when that fails), then its plan, limits and trial in one
    transaction with the event `tenant.plan_changed`. A trial continues on a plan with
    trial_days, and starts on one when the tenant had none; a plan without trial_days ends
    it. The tenant's state is left as is (a suspended tenant is resumed by `resume`).
    `changed` false and no module installed: nothing was to do. Long when modules are
    installed: the API runs it as a job."""
    new = get(settings, plan)
    db, label = name, tenant_label(settings, name)
    with store.session(settings) as cr:
        if not catalog_tenants.database_exists(cr, db):
            raise NotFound(f"tenant {db} does not exist")
    mirror(settings)
    installed = tenant_modules.install_missing(settings, db, list(new.modules))
    with store.session(settings) as cr:
        row = catalog_tenants.ensure(cr, db)
        changed = row.plan != new.name
        if changed:
            trial_ends, trial_ended = _trial_after_change(row, new)
            catalog_tenants.set_plan(cr, db, new.name, trial_ends, trial_ended)
            store.bump(cr)
            events.emit(
                cr,
                events.TENANT_PLAN_CHANGED,
                db,
                {
                    "name": label,
                    "plan": new.name,
                    "previous_plan": row.plan,
                    "modules_installed": installed,
                    "trial_ends_at": trial_ends,
                },
            )
        else:
            trial_ends = row.trial_ends_at
    return {
        "tenant": label,
        "database": db,
        "plan": new.name,
        "previous_plan": row.plan,
        "changed": changed,
        "modules_installed": installed,
        "trial_ends_at": trial_ends,
    }


def _trial_after_change(
    row: catalog_tenants.Row, new: Plan
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(trial_ends_at, trial_ended_at) on the new plan."""
    if not new.trial_days:
        return None, row.trial_ended_at
    if row.trial_ends_at is not None:
        return row.trial_ends_at, row.trial_ended_at
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=new.trial_days), None
