"""Issue 26 item 4: a provisioning SIGKILLed at any step (a spare's claim, or a copy of the
template) is never served half-made, `db sweep` never deletes its files, and a retry with the
same arguments finishes it (exit 0: files, a new identity, the admin's password hash).

No Odoo: the template's facts are given to the killed process (template_cache.describe is
the only thing that asks Odoo), the spares and templates are fake Odoo databases with the rows
a tenant's setup writes.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest

from odoo_saas_tools.backups import orphans
from odoo_saas_tools.core import passwords
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore, hidden, listing, template_cache
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.support.cli import run_cli
from tests.tenants.conftest import make_fake_odoo

KILLED = 137

# Where the killed process dies: (module of odoo_saas_tools.tenants, function, before/after it)
CLAIM_STEPS = {
    "files": ("filestore", "rename", "before"),  # the spare renamed, its filestore not moved
    "password": ("spares", "take_secret", "before"),  # files moved
    "setup": ("create", "_write_identity_and_setup", "before"),  # template's identity, admin
    "publish": ("create", "_write_identity_and_setup", "after"),  # all written, not yet named
}
COPY_STEPS = {
    "files": ("filestore", "copy_tree", "before"),  # the template copied, its files not
    "setup": ("create", "_write_identity_and_setup", "before"),
    "publish": ("create", "_write_identity_and_setup", "after"),
}

SCRIPT = """
import importlib, os, sys
from odoo_saas_tools.tenants import template_cache
if {facts!r} is not None:
    template_cache.describe = lambda settings, spec, **kw: {facts!r}
if {step!r}:
    module_name, function, when = {step!r}
    module = importlib.import_module("odoo_saas_tools.tenants." + module_name)
    real = getattr(module, function)
    def killed(*args, **kwargs):
        if when == "after":
            real(*args, **kwargs)
        os._exit({killed})
    setattr(module, function, killed)
from odoo_saas_tools.cli import main
sys.exit(main({args!r}))
"""


def provision(
    env: dict[str, str],
    facts: dict | None,
    args: list[str],
    step: tuple[str, str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`odoo-saas tenant provision ARGS` with the test's template (facts; None: Odoo's),
    killed at step if given."""
    return run_killed(env, ["tenant", "provision", *args], facts=facts, step=step)


def run_killed(
    env: dict[str, str],
    args: list[str],
    *,
    facts: dict | None = None,
    step: tuple[str, str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`odoo-saas ARGS`, killed at step (module, function, before|after) if given."""
    script = SCRIPT.format(facts=facts, step=step, killed=KILLED, args=args)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


def attachments(settings: Settings, db: str) -> list[str]:
    return sorted(p.name for p in settings.filestore(db).rglob("*") if p.is_file())


def params(settings: Settings, db: str) -> dict[str, str]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter")
        return dict(cr.fetchall())


def admin_hash(settings: Settings, db: str) -> str:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT password FROM res_users WHERE id = 2")
        return cr.fetchone()[0]


def unfinished_of(settings: Settings, tenant: str) -> list[hidden.Orphan]:
    return [o for o in hidden.find(settings) if o.tenant == tenant]


@pytest.fixture
def facts() -> dict:
    """The facts of a template of the test's own (claims look only at spares of theirs)."""
    return {"fake_template": uuid.uuid4().hex}


@pytest.fixture
def made(tsettings: Settings) -> Iterator[list[str]]:
    """Hidden databases the test made: dropped with their filestores afterwards, and so is
    anything left unfinished for the test's tenants."""
    names: list[str] = []
    yield names
    for name in names:
        databases.drop(tsettings, name)
        filestore.remove(tsettings.filestore(name))


@pytest.fixture
def spare(tsettings: Settings, facts: dict, made: list[str]) -> str:
    key = template_cache.template_name(facts).removeprefix(template_cache.PREFIX)
    name = f"{hidden.SPARE_PREFIX}{key}_{uuid.uuid4().hex[:8]}"
    made.append(name)
    make_fake_odoo(tsettings, name, admin=True)
    return name


@pytest.fixture
def template(tsettings: Settings, facts: dict, made: list[str]) -> str:
    """A cached template as template_cache leaves one (a PostgreSQL template with its facts)."""
    name = template_cache.template_name(facts)
    made.append(name)
    make_fake_odoo(tsettings, name, admin=True)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    meta = {**facts, "created": now, "used": now, "filestore": True}
    databases.set_template(tsettings, name, json.dumps(meta))
    return name


@pytest.fixture
def clean_up_unfinished(tsettings: Settings) -> Iterator[Callable[[str], None]]:
    tenants: list[str] = []
    yield tenants.append
    for tenant in tenants:
        for orphan in unfinished_of(tsettings, tenant):
            databases.drop(tsettings, orphan.name)


def _check_not_served_and_flagged(settings: Settings, name: str) -> hidden.Orphan:
    """The half-made tenant does not exist under its name (Odoo serves any database its
    filter lets through), and `db list` flags what is left of it."""
    assert not databases.exists(settings, name), "a half-made tenant is there to be served"
    (left,) = unfinished_of(settings, name)
    assert left.kind == "provisioning" and not left.busy
    states = {row.name: row.state for row in listing.tenants(settings)}
    assert name not in states and states[left.name] == "orphaned-provisioning"
    return left


def _check_finished(settings: Settings, name: str, files: list[str], password: str) -> None:
    assert attachments(settings, name) == files and len(files) == 3
    identity = params(settings, name)
    assert identity["database.secret"] != "old-secret"  # the template's (and the spare's)
    assert identity["database.uuid"] != "old-uuid"
    assert passwords.verify_password(password, admin_hash(settings, name))
    assert unfinished_of(settings, name) == []
    assert {row.name: row.state for row in listing.tenants(settings)}[name] == "ready"


@pytest.mark.parametrize("sweep_first", [False, True], ids=["retry", "sweep-then-retry"])
@pytest.mark.parametrize("step", list(CLAIM_STEPS))
def test_a_claim_killed_at_any_step_is_finished_by_its_retry(
    tenants_env, tsettings, dbname, facts, spare, clean_up_unfinished, step, sweep_first
):
    """Before: killed after the rename, the tenant was "ready" (and served) without files,
    with the template's database.secret and no admin password anyone knew; `db sweep` deleted
    the spare's filestore and the retry exited 3 ("exists"), which the chart's Job takes as
    done."""
    env = {**tenants_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "1"}
    name = dbname("claim")
    clean_up_unfinished(name)
    files = attachments(tsettings, spare)
    killed = provision(env, facts, [name, "--json"], CLAIM_STEPS[step])
    assert killed.returncode == KILLED, killed.stderr
    assert not databases.exists(tsettings, spare)  # it was claimed
    _check_not_served_and_flagged(tsettings, name)

    if sweep_first:
        (swept,) = [o for o in orphans.sweep(tsettings) if o.tenant == name]
        assert "finish" in swept.action, swept.action
        assert attachments(tsettings, name) == files  # rolled forward, not deleted
        _check_not_served_and_flagged(tsettings, name)

    retry = provision(env, facts, [name, "--json"])
    assert retry.returncode == 0, retry.stderr
    result = json.loads(retry.stdout)
    assert result["created"] is True and result["database"] == name
    _check_finished(tsettings, name, files, result["admin_password"])
    assert not tsettings.filestore(spare).exists()
    again = provision(env, facts, [name, "--json"])
    assert again.returncode == 3, again.stderr  # now it does exist


@pytest.mark.parametrize("step", list(COPY_STEPS))
def test_a_copy_killed_at_any_step_is_never_served_and_finished_by_its_retry(
    tenants_env, tsettings, dbname, facts, template, clean_up_unfinished, tmp_path, step
):
    """Before: killed after CREATE DATABASE ... TEMPLATE, the tenant was served with the
    template's database.secret and its admin/admin login, and the retry exited 3."""
    env = {**tenants_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "0"}
    name = dbname("copy")
    clean_up_unfinished(name)
    pw = tmp_path / "pw"
    pw.write_text("Chosen-Before-The-Kill-3\n")
    args = [name, "--json", "--admin-password-file", str(pw)]
    killed = provision(env, facts, args, COPY_STEPS[step])
    assert killed.returncode == KILLED, killed.stderr
    _check_not_served_and_flagged(tsettings, name)
    orphans.sweep(tsettings)
    _check_not_served_and_flagged(tsettings, name)

    retry = provision(env, facts, args)
    assert retry.returncode == 0, retry.stderr
    assert json.loads(retry.stdout)["admin_password"] is None  # from the file
    _check_finished(tsettings, name, attachments(tsettings, template), "Chosen-Before-The-Kill-3")
    assert not passwords.verify_password("admin", admin_hash(tsettings, name))


def test_sweep_leaves_a_provisioning_alone_while_it_runs(
    tenants_env, tsettings, dbname, facts, spare, clean_up_unfinished
):
    env = {**tenants_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "1"}
    name = dbname("busy")
    clean_up_unfinished(name)
    files = attachments(tsettings, spare)
    killed = provision(env, facts, [name], CLAIM_STEPS["files"])
    assert killed.returncode == KILLED, killed.stderr
    with tenant_lock(tsettings, name):  # a retry at work
        (left,) = unfinished_of(tsettings, name)
        assert left.busy
        (swept,) = [o for o in orphans.sweep(tsettings) if o.tenant == name]
        assert "still running" in swept.action
        assert attachments(tsettings, spare) == files


def test_an_unfinished_tenant_is_given_up_with_db_drop(
    tenants_env, tsettings, dbname, facts, spare, clean_up_unfinished
):
    """Nobody will retry it: `db drop NAME` removes it (no last backup: never handed out)."""
    env = {**tenants_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "1"}
    name = dbname("givenup")
    clean_up_unfinished(name)
    killed = provision(env, facts, [name], CLAIM_STEPS["password"])  # its files moved already
    assert killed.returncode == KILLED, killed.stderr
    (left,) = unfinished_of(tsettings, name)
    drop = run_cli(tenants_env, "db", "drop", name, "--json")
    assert drop.returncode == 0, drop.stderr
    assert json.loads(drop.stdout)["unfinished"] == left.name
    assert unfinished_of(tsettings, name) == [] and not databases.exists(tsettings, left.name)
    assert not tsettings.filestore(name).exists() and not tsettings.filestore(spare).exists()
    assert run_cli(tenants_env, "db", "drop", name).returncode == 3


def test_an_unfinished_tenant_made_meanwhile_by_other_means_is_dropped_not_its_files(
    tenants_env, tsettings, dbname, facts, spare, clean_up_unfinished
):
    """The name was taken meanwhile (a restore, a create of another module set): the
    half-made copy goes, the tenant's own files stay."""
    env = {**tenants_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "1"}
    name = dbname("taken")
    clean_up_unfinished(name)
    killed = provision(env, facts, [name], CLAIM_STEPS["files"])
    assert killed.returncode == KILLED, killed.stderr
    (left,) = unfinished_of(tsettings, name)
    make_fake_odoo(tsettings, name, files=2)
    own = attachments(tsettings, name)
    (swept,) = [o for o in orphans.sweep(tsettings) if o.tenant == name]
    assert "dropped" in swept.action, swept.action
    assert not databases.exists(tsettings, left.name) and unfinished_of(tsettings, name) == []
    assert not tsettings.filestore(spare).exists()  # the claimed spare's files went with it
    assert attachments(tsettings, name) == own
    again = provision(env, facts, [name])
    assert again.returncode == 3, again.stderr


CLONE_STEPS = {
    "identity": ("clone", "_make_staging", "before"),  # SRC's identity, not neutralized
    "publish": ("clone", "_make_staging", "after"),  # all written, not yet named
    "named": ("filestore", "rename", "after"),  # its files under DST's name, the database not
}


@pytest.mark.parametrize("sweep_first", [False, True], ids=["retry", "sweep-then-retry"])
@pytest.mark.parametrize("step", list(CLONE_STEPS))
def test_a_clone_killed_before_its_identity_is_never_served_and_made_anew(
    tenants_env, tsettings, fake_odoo, dbname, clean_up_unfinished, step, sweep_first
):
    """The same class as a provisioning's copy: killed after CREATE DATABASE ... TEMPLATE, a
    staging copy was served under its name with the production's database.secret, enterprise
    code and (neutralization not done) live mail servers and crons, and the retry exited 3."""
    src = fake_odoo("prod", files=2)
    dst = dbname("staging")
    clean_up_unfinished(dst)
    args = ["db", "clone", src, dst, "--no-neutralize", "--json"]
    killed = run_killed(tenants_env, args, step=CLONE_STEPS[step])
    assert killed.returncode == KILLED, killed.stderr
    assert not databases.exists(tsettings, dst), "a half-made clone is there to be served"
    (left,) = unfinished_of(tsettings, dst)
    assert left.kind == "cloning" and not left.busy
    states = {row.name: row.state for row in listing.tenants(tsettings)}
    assert dst not in states and states[left.name] == "orphaned-cloning"
    if sweep_first:  # nothing to finish: the source is there to clone again
        (swept,) = [o for o in orphans.sweep(tsettings) if o.tenant == dst]
        assert swept.action.startswith("dropped"), swept.action
        assert unfinished_of(tsettings, dst) == [] and not tsettings.filestore(dst).exists()
        assert not tsettings.filestore(left.name).exists()

    retry = subprocess.run(
        [sys.executable, "-m", "odoo_saas_tools", *args],
        env=tenants_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert retry.returncode == 0, retry.stderr
    identity = params(tsettings, dst)
    assert identity["database.secret"] != "old-secret"
    assert "database.enterprise_code" not in identity
    assert attachments(tsettings, dst) == attachments(tsettings, src)
    assert unfinished_of(tsettings, dst) == []
    assert not any(
        p.name.startswith(hidden.NEW_TENANT_PREFIX) for p in tsettings.filestore_root.iterdir()
    )


def test_a_journal_naming_another_tenants_files_is_never_followed(
    tenants_env, tsettings, fake_odoo, dbname, made
):
    """Journals become paths that files move from and are removed under: one odoo-saas did not
    write (any owner of a database may comment on it), naming a tenant's filestore as "its
    spare's", moves and deletes nothing: not by `db sweep`, `db drop` or a provisioning."""
    victim = fake_odoo("victim", files=2)
    files = attachments(tsettings, victim)
    thief = dbname("thief")
    forged = hidden.NEW_TENANT_PREFIX + uuid.uuid4().hex[:12]
    made.append(forged)
    databases.create_database(tsettings, forged)
    journal = hidden.journal("provision", thief, "new", template="x", spare=victim)
    databases.set_comment(tsettings, forged, journal)
    (swept,) = [o for o in orphans.sweep(tsettings) if o.name == forged]
    assert "did not write" in swept.action, swept.action
    assert run_cli(tenants_env, "db", "drop", thief).returncode == 3
    assert attachments(tsettings, victim) == files and not tsettings.filestore(thief).exists()
    assert databases.exists(tsettings, forged)  # left for a human to look at
