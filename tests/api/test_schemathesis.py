"""schemathesis against the served document: every operation, at least 100 examples each
(positive and negative), 0 answers 5xx, every answer as the document says."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)
EXAMPLES = 100


def test_every_operation_conforms_and_never_answers_5xx(api, tokens, fake_tenant, tmp_path):
    # a tenant for the fuzzed names to find now and then (schemathesis' examples use "string")
    fake_tenant("st", admin=True)
    exe = Path(sys.executable).with_name("schemathesis")
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(exe),
            "run",
            f"http://127.0.0.1:{api.port}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--seed",
            "28",
            "--no-shrink",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "30",
            "--no-color",
            # it learns token names from GET /v1/tokens and would revoke the session's tokens
            # (its own too): tests/api/test_me_plans_tokens.py covers revoking
            "--exclude-path-regex",
            "/revoke$",
            "-H",
            f"Authorization: Bearer {tokens['admin']}",
            "--report",
            "json",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    # the webhooks it subscribed point anywhere: none stays to be delivered to
    for hook in api.call("GET", "/v1/webhooks", token=tokens["admin"]).body["items"]:
        api.call("DELETE", f"/v1/webhooks/{hook['id']}", token=tokens["admin"])
    print(f"schemathesis: {elapsed:.1f} s\n{proc.stdout[-6000:]}")
    assert proc.returncode == 0, proc.stdout[-12000:] + proc.stderr[-3000:] + api.log()[-3000:]
