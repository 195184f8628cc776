"""CLI parity: `tenant suspend|resume|plan` and `job list|show` call the functions the API
routes call; a generated admin password is handed out once, to the token that asked."""

from __future__ import annotations

import json
import uuid

from psycopg2.extras import Json

from odoo_saas_tools.catalog import store
from tests.api.conftest import api_db
from tests.support.cli import run_cli


def test_tenant_suspend_resume_and_plan_are_the_apis(api, api_env, tokens, fake_tenant):
    name = fake_tenant("cli")
    proc = run_cli(api_env, "tenant", "suspend", name, "--reason", "unpaid invoice", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "suspended"
    shown = api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body
    assert (shown["state"], shown["state_reason"]) == ("suspended", "unpaid invoice")
    assert run_cli(api_env, "tenant", "resume", name).returncode == 0
    assert api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body["state"] == "active"
    same = run_cli(api_env, "tenant", "plan", name, "default")
    assert same.returncode == 3 and "nothing changed" in same.stderr  # already on it
    bad_plan = run_cli(api_env, "tenant", "plan", name, "gold")
    assert bad_plan.returncode == 2 and "unknown plan 'gold'" in bad_plan.stderr
    missing = run_cli(api_env, "tenant", "suspend", "nosuch9", "--reason", "x")
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    two_lines = run_cli(api_env, "tenant", "suspend", name, "--reason", "a\nb")
    assert two_lines.returncode == 2 and "one line" in two_lines.stderr


def test_job_list_and_show_and_a_generated_password_shown_once(api, api_env, api_settings, tokens):
    """A finished create's generated password (what tenants.create returns) is in the catalog
    until the token that asked reads the job: then once, and never to anyone else."""
    job_id = str(uuid.uuid4())
    db = api_db(api_settings, "pwonce")
    with store.session(api_settings) as cr:
        cr.execute(
            "INSERT INTO job (id, kind, tenant, state, params, result, token, finished_at) "
            "VALUES (%s, 'create', %s, 'succeeded', %s, %s, %s, now())",
            (
                job_id,
                db,
                Json({"database": db}),
                Json({"database": db, "admin_password": "s3cret-once"}),
                _name_of(api_env, tokens["write"]),
            ),
        )
    shown = run_cli(api_env, "job", "show", job_id)
    assert shown.returncode == 0 and "s3cret-once" not in shown.stdout
    listed = run_cli(api_env, "job", "list", "--tenant", "pwonce", "--json")
    assert job_id in listed.stdout and "s3cret-once" not in listed.stdout
    other = api.call("GET", f"/v1/jobs/{job_id}", token=tokens["admin"]).body
    assert "admin_password" not in other["result"]
    mine = api.call("GET", f"/v1/jobs/{job_id}", token=tokens["write"]).body
    assert mine["result"]["admin_password"] == "s3cret-once"
    again = api.call("GET", f"/v1/jobs/{job_id}", token=tokens["write"]).body
    assert "admin_password" not in again["result"]
    with store.session(api_settings) as cr:
        cr.execute("SELECT result::text FROM job WHERE id = %s", (job_id,))
        assert "s3cret-once" not in cr.fetchone()[0]
    assert "s3cret-once" not in api.log()
    assert run_cli(api_env, "job", "show", str(uuid.uuid4())).returncode == 3
    assert run_cli(api_env, "job", "show", "not-a-uuid").returncode == 3


def _name_of(env, token: str) -> str:
    lookup = token.split("_")[1]
    listed = json.loads(run_cli(env, "api", "token", "list", "--json").stdout)
    from odoo_saas_tools.core.settings import Settings

    with store.session(Settings.from_env(env)) as cr:
        cr.execute("SELECT name FROM api_token WHERE lookup = %s", (lookup,))
        name = cr.fetchone()[0]
    assert name in {t["name"] for t in listed}
    return name
