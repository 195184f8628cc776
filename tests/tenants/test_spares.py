"""Spare tenants without Odoo: claiming is atomic, journaled, moves the filestore and hands out
the pre-hashed password once; half-made spares are orphans a sweep removes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from odoo_saas_tools.core import passwords
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore, hidden, spares, template_cache, unfinished
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import ensure_target_free
from tests.support.wait import wait_until
from tests.tenants.conftest import make_fake_odoo


@pytest.fixture
def template() -> str:
    """A template name of its own per test (claims only look at spares of their template)."""
    return template_cache.PREFIX + uuid.uuid4().hex[:24]


@pytest.fixture
def make_spare(tsettings: Settings, template: str) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(*, password: str | None = None) -> str:
        suffix = uuid.uuid4().hex[:8]
        name = f"{hidden.SPARE_PREFIX}{template.removeprefix(template_cache.PREFIX)}_{suffix}"
        made.append(name)
        make_fake_odoo(tsettings, name)
        if password is not None:
            secret = {"password": password, "hash": passwords.hash_password(password, rounds=1)}
            atomic_write_json(tsettings.runtime_dir / spares.SECRETS_DIR / name, secret)
        return name

    yield make
    for name in made:
        databases.drop(tsettings, name)
        filestore.remove(tsettings.filestore(name))


@pytest.fixture
def new_name(tsettings: Settings) -> Iterator[Callable[[], str]]:
    """Hidden names claims rename spares to; dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(unfinished.new_name())
        return made[-1]

    yield make
    for name in made:
        databases.drop(tsettings, name)


def attachments(settings: Settings, db: str) -> list[str]:
    return sorted(p.name for p in settings.filestore(db).rglob("*") if p.is_file())


def test_claim_renames_a_spare_moves_its_files_and_hands_out_its_password_once(
    tsettings: Settings, template: str, make_spare, dbname, new_name
) -> None:
    spare = make_spare(password="Spare-Pass-1")
    files = attachments(tsettings, spare)
    target, hidden_name = dbname("claim"), new_name()

    claimed = spares.claim(tsettings, template, target, hidden=hidden_name)

    assert claimed is not None and claimed.spare == spare
    assert claimed.filestore == "moved"
    assert claimed.password == "Spare-Pass-1"
    assert passwords.verify_password("Spare-Pass-1", claimed.password_hash or "")
    # hidden (never served) until its maker publishes it, with the journal a retry needs
    assert not databases.exists(tsettings, target) and not databases.exists(tsettings, spare)
    assert unfinished.read(tsettings, hidden_name) == claimed.made
    assert claimed.made == unfinished.Unfinished(hidden_name, target, template, spare)
    assert attachments(tsettings, target) == files and len(files) == 3
    assert not tsettings.filestore(spare).exists()
    assert not (tsettings.runtime_dir / spares.SECRETS_DIR / spare).exists()  # shown once
    assert spares.ready(tsettings, template) == []
    unfinished.publish(tsettings, claimed.made)
    assert databases.exists(tsettings, target) and not databases.exists(tsettings, hidden_name)
    assert databases.comments(tsettings, target)[target] == ""  # the journal went with it


def test_a_spare_claimed_elsewhere_gets_a_password_hashed_at_claim_time(
    tsettings: Settings, template: str, make_spare, dbname, new_name
) -> None:
    """Its password file lives in another container's runtime directory: None here."""
    make_spare()
    claimed = spares.claim(tsettings, template, dbname("claim"), hidden=new_name())
    assert claimed is not None and claimed.password is None and claimed.password_hash is None


def test_a_claim_under_the_tenants_lock_uses_the_locks_session(
    tsettings: Settings, template: str, make_spare, dbname, monkeypatch
) -> None:
    """Provisioning checks the name, claims the spare and publishes it over its lock's
    session: every connection costs PostgreSQL a backend start, a tenth of a signup's server
    time."""
    spare = make_spare()
    target = dbname("claim")
    with tenant_lock(tsettings, target) as held:
        opened: list[object] = []
        real = psycopg2.connect
        monkeypatch.setattr(psycopg2, "connect", lambda *a, **k: opened.append(1) or real(*a, **k))
        assert unfinished.of_tenant(tsettings, target, conn=held.conn) is None
        ensure_target_free(tsettings, target, conn=held.conn)
        hidden_name = unfinished.new_name()
        claimed = spares.claim(tsettings, template, target, hidden=hidden_name, conn=held.conn)
        assert claimed is not None
        unfinished.publish(tsettings, claimed.made, conn=held.conn)
        monkeypatch.undo()
        assert opened == []
        assert claimed is not None and claimed.spare == spare
        held.ensure_held("after the claim")  # the session still holds the tenant's lock
    assert databases.exists(tsettings, target)


def test_no_spare_of_the_template_means_none_and_nothing_made(
    tsettings: Settings, template: str, make_spare, dbname, new_name
) -> None:
    other = template_cache.PREFIX + uuid.uuid4().hex[:24]
    make_spare()  # a spare, but of another template (older code, other modules)
    target, hidden_name = dbname("claim"), new_name()
    assert spares.claim(tsettings, other, target, hidden=hidden_name) is None
    assert not databases.exists(tsettings, target)
    assert not databases.exists(tsettings, hidden_name)
    assert len(spares.ready(tsettings, template)) == 1


def test_signups_at_once_never_share_a_spare(
    tsettings: Settings, template: str, make_spare, dbname, new_name
) -> None:
    made = {make_spare() for _ in range(3)}
    targets = [dbname(f"race{i}") for i in range(6)]
    hidden_names = {target: new_name() for target in targets}
    results: dict[str, spares.Claimed | None] = {}
    barrier = threading.Barrier(len(targets))

    def claim(target: str) -> None:
        barrier.wait()
        results[target] = spares.claim(tsettings, template, target, hidden=hidden_names[target])

    threads = [threading.Thread(target=claim, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    won = {t: c.spare for t, c in results.items() if c is not None}
    assert sorted(won.values()) == sorted(made)  # each spare once, all of them used
    assert len(won) == 3 and sum(c is None for c in results.values()) == 3
    for target in targets:
        assert databases.exists(tsettings, hidden_names[target]) is (target in won)
        if target in won:  # each journal names its own spare and tenant
            assert unfinished.read(tsettings, hidden_names[target]) == results[target].made
            assert results[target].made.spare == won[target]


def test_a_spare_whose_files_cannot_move_is_given_up_not_half_claimed(
    tsettings: Settings, template: str, make_spare, dbname, new_name
) -> None:
    make_spare()
    target, hidden_name = dbname("claim"), new_name()
    tsettings.filestore(target).mkdir(parents=True)  # in the way
    with pytest.raises(SaasError, match="filestore"):
        spares.claim(tsettings, template, target, hidden=hidden_name)
    assert not databases.exists(tsettings, target)
    assert not databases.exists(tsettings, hidden_name)
    assert tsettings.filestore(target).is_dir()  # not ours: left alone


def test_half_made_spares_are_orphans_ready_ones_are_not(
    tsettings: Settings, template: str, make_spare
) -> None:
    ready = make_spare()
    key = template.removeprefix(template_cache.PREFIX)
    half = f"{hidden.NEW_SPARE_PREFIX}{key}_deadbeef"
    make_fake_odoo(tsettings, half)
    stray = tsettings.filestore(f"{hidden.SPARE_PREFIX}{key}_cafecafe")  # its database never came
    stray.mkdir(parents=True)
    try:
        found = {o.name: o for o in hidden.find(tsettings)}
        assert ready not in found
        assert found[half].kind == "scratch" and not found[half].busy
        assert found[stray.name].kind == "filestore"
    finally:
        databases.drop(tsettings, half)
        filestore.remove(tsettings.filestore(half))
        filestore.remove(stray)


def test_a_rebuilt_template_discards_its_spares(
    tsettings: Settings, template: str, make_spare
) -> None:
    mine = [make_spare(password="x-1"), make_spare()]
    other = template_cache.PREFIX + uuid.uuid4().hex[:24]
    assert sorted(spares.discard(tsettings, template)) == sorted(mine)
    assert spares.ready(tsettings, template) == [] and spares.discard(tsettings, other) == []
    assert not any(databases.exists(tsettings, s) for s in mine)
    assert not (tsettings.runtime_dir / spares.SECRETS_DIR / mine[0]).exists()


def test_a_failing_fill_is_retried_after_a_growing_pause() -> None:
    """A template that does not build must not be rebuilt every 15 s for good."""
    pauses = [spares.retry_pause(n) for n in range(8)]
    assert pauses[0] == spares.WATCH_SECONDS
    assert pauses == sorted(pauses) and pauses[1] == 2 * pauses[0]
    assert pauses[-1] == spares.RECHECK_SECONDS


def test_the_spares_program_survives_a_template_that_cannot_be_built(tenants_env, tmp_path):
    """No Odoo to build the template: one line in the log, the program keeps running (and
    waits longer before the next try)."""
    import signal
    import subprocess
    import sys

    env = {**tenants_env, "ODOO_BIN": str(tmp_path / "no-odoo")}
    log = tmp_path / "spares.log"
    with open(log, "w") as out:
        argv = ["tenant", "spares", "--watch", "--count", "1"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", *argv],
            env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        # the failed try is logged, then the program waits for the next one, still running
        wait_until(lambda: "next try in 30 s" in log.read_text() or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    text = log.read_text()
    assert "spares:" in text and "next try in 30 s" in text, text
