"""The console as an operator uses it, in a real browser against the real API."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import sign_in
from tests.support.api import ApiServer, make_token

ACTIONS = ("Suspend", "Resume", "Restore", "Clone", "Delete", "Back up", "Create tenant")


def test_signing_in_keeps_the_token_in_the_tab_only_and_pages_carry_a_strict_csp(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    name = fake_tenant("signin")
    answer = page.goto("/console")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("API token").fill("osk_0000000000000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text("the token is not valid")

    sign_in(page, tokens["admin"])
    link = page.get_by_role("link", name=name, exact=True)
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(f"/console/tenants/{name}$"))
    expect(page.locator("#figures")).to_contain_text("active")
    # the tab keeps it (a reload stays signed in), nowhere else: not the URL, not the log
    page.reload()
    expect(page.locator("#who-name")).to_contain_text("admin")
    assert tokens["admin"] not in page.url
    assert page.evaluate("document.cookie") == ""
    assert tokens["admin"] not in server.log()
    assert page.problems == []


def test_a_read_only_token_sees_no_action_and_the_api_refuses_it_anyway(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    name = fake_tenant("ro")
    sign_in(page, tokens["read"], f"/console/tenants/{name}")
    expect(page.locator("#figures")).to_contain_text("active")
    expect(page.locator("#backups tbody")).to_contain_text("No backup")
    for label in ACTIONS:
        expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
    page.goto("/console")
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Create tenant")).to_have_count(0)
    refused = server.call(
        "POST", f"/v1/tenants/{name}/suspend", token=tokens["read"], body={"reason": "x"}
    )
    assert refused.status == 403
    assert page.problems == []


def test_suspend_and_resume_ask_for_the_name_and_a_hostile_reason_stays_text(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    name = fake_tenant("sus")
    hostile = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    sign_in(page, tokens["write"], f"/console/tenants/{name}")
    page.get_by_role("button", name="Suspend", exact=True).click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Suspend", exact=True)
    expect(confirm).to_be_disabled()  # nothing on a single click
    dialog.get_by_label("Reason").fill(hostile)
    dialog.get_by_label("Tenant name").fill(name[:-1])
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Tenant name").fill(name)
    confirm.click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#figures")).to_contain_text("suspended")
    expect(page.locator("#figures")).to_contain_text(hostile)  # shown as text
    assert page.evaluate("window.pwned") is None
    assert page.locator("#figures script, #figures img").count() == 0

    page.get_by_role("button", name="Resume", exact=True).click()
    dialog.get_by_label("Tenant name").fill(name)
    dialog.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("#figures")).to_contain_text("active")
    assert server.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body["state"] == (
        "active"
    )
    assert page.problems == []


def test_a_create_from_the_console_shows_its_job_to_the_end(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    """Without Odoo the create fails at once: the job's one line of error appears live."""
    sign_in(page, tokens["write"])
    name = f"new{uuid.uuid4().hex[:8]}"
    page.get_by_label("New tenant's name").fill(name)
    page.get_by_label("Plan", exact=True).select_option("starter")
    page.get_by_role("button", name="Create tenant").click()
    line = page.locator("#create-job .job-line")
    expect(line).to_have_attribute("data-state", "failed", timeout=60_000)
    error = line.locator(".error").inner_text()
    assert error and "\n" not in error
    expect(page.locator("#recent-jobs tbody")).to_contain_text("failed")


def test_restore_of_a_backup_asks_for_the_name_and_its_job_is_followed_live(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    name = fake_tenant("rst", admin=True)
    made = server.call("POST", f"/v1/tenants/{name}/backups", token=tokens["write"], body={})
    assert made.status == 202, made
    assert server.wait_job(made.body["job"]["id"], tokens["write"])["state"] == "succeeded"
    sign_in(page, tokens["admin"], f"/console/tenants/{name}")
    expect(page.locator("#backups tbody")).to_contain_text("verified")
    page.get_by_role("button", name="Restore", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Restore", exact=True)
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Tenant name").fill(name)
    confirm.click()
    expect(dialog).to_be_hidden()
    row = page.locator("#jobs tbody tr").filter(has_text="restore")
    expect(row).to_have_attribute("data-state", "succeeded", timeout=120_000)
    # the restore kept a last backup of what it replaced: the list grows without a reload
    expect(page.locator("#backups tbody")).to_contain_text("replaced")
    assert page.problems == []


def test_behind_single_sign_on_the_console_needs_no_token(
    browser: Browser, console_env, fake_tenant, tmp_path
):
    """The proxy's header (added here by the browser context, as the proxy would) signs the
    operator in; the console's own calls carry the header a mutating call needs."""
    env = {
        **console_env,
        "ODOO_SAAS_CONSOLE_SSO_HEADER": "X-Forwarded-User",
        "ODOO_SAAS_CONSOLE_SSO_PROXIES": "127.0.0.1",
        "ODOO_SAAS_CONSOLE_SSO_SCOPE": "write",
    }
    server = ApiServer(env, str(tmp_path / "api.log")).start()
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "alice@hoster.test"})
    try:
        name = fake_tenant("sso")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/console/tenants/{name}")
        expect(page.locator("#who-name")).to_have_text("sso:alice@hoster.test (write)")
        expect(page.get_by_label("API token")).to_have_count(0)
        page.get_by_role("button", name="Suspend", exact=True).click()
        page.get_by_role("dialog").get_by_label("Reason").fill("asked by the customer")
        page.get_by_role("dialog").get_by_label("Tenant name").fill(name)
        page.get_by_role("dialog").get_by_role("button", name="Suspend").click()
        expect(page.locator("#figures")).to_contain_text("suspended")
        expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # write, not admin
    finally:
        context.close()
        server.stop()


def test_webhooks_show_their_deliveries_and_a_hostile_url_stays_text(
    page: Page, server: ApiServer, tokens, fake_tenant
):
    hostile = "http://127.0.0.1:9/<script>window.pwned=1</script>"
    body = {"url": hostile, "events": ["tenant.suspended"]}
    added = server.call("POST", "/v1/webhooks", token=tokens["admin"], body=body)
    assert added.status == 201, added
    try:
        name = fake_tenant("hook")
        body = {"reason": "a delivery to show"}
        assert (
            server.call(
                "POST", f"/v1/tenants/{name}/suspend", token=tokens["write"], body=body
            ).status
            == 200
        )
        sign_in(page, tokens["admin"], "/console/webhooks")
        panel = page.locator("#webhooks section").filter(has_text=hostile)
        expect(panel.get_by_role("heading")).to_have_text(hostile)
        row = panel.locator("tbody tr").first
        expect(row).to_contain_text("tenant.suspended", timeout=30_000)
        assert page.evaluate("window.pwned") is None
        assert page.locator("#webhooks script").count() == 0
        assert page.problems == []
    finally:
        server.call("DELETE", f"/v1/webhooks/{added.body['id']}", token=tokens["admin"])


def test_plans_and_tokens_have_their_pages_and_a_revoke_asks_for_the_name(
    page: Page, server: ApiServer, console_env, tokens
):
    doomed = make_token(console_env, f"doomed-{uuid.uuid4().hex[:6]}", "read")
    doomed_name = next(
        t["name"]
        for t in server.call("GET", "/v1/tokens", token=tokens["admin"]).body["items"]
        if t["name"].startswith("doomed-") and t["revoked_at"] is None
    )
    sign_in(page, tokens["admin"], "/console/plans")
    expect(page.locator("#plans tbody")).to_contain_text("starter")
    expect(page.locator("#plans tbody tr").filter(has_text="business")).to_contain_text("14 days")
    page.get_by_role("link", name="Tokens").click()
    row = page.locator("#tokens tbody tr").filter(has_text=doomed_name)
    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Revoke")).to_be_disabled()
    dialog.get_by_label("Token name").fill(doomed_name)
    dialog.get_by_role("button", name="Revoke").click()
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert server.call("GET", "/v1/me", token=doomed).status == 401
    assert doomed not in page.content()  # a token is never shown, only its name
    assert page.problems == []
