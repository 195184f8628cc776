"""The control API for tests: the real server in a subprocess, and a small HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.support import processes
from tests.support.cli import run_cli
from tests.support.net import free_port, wait_port
from tests.support.wait import wait_until


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def detail(self) -> str:
        return self.body.get("detail", "") if isinstance(self.body, dict) else ""


class ApiServer:
    """`odoo-saas api serve` on a free loopback port, its log in a file."""

    def __init__(self, env: Mapping[str, str], log_path: str) -> None:
        self.port = free_port()
        self.env = {**env, "ODOO_SAAS_API_PORT": str(self.port), "ODOO_SAAS_API_BIND": "127.0.0.1"}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "api", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_port(self.port, timeout=60)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"the API did not start:\n{self.log()[-3000:]}") from None
        return self

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def kill(self) -> None:
        """SIGKILL: nothing of the process gets to clean up."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc:
            processes.stop(self.proc, 40)

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            text = resp.read()
            answer_headers = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors="replace")
        return Answer(resp.status, answer_headers, parsed)

    def wait_job(self, job_id: str, token: str, timeout: float = 120) -> dict:
        """The job once it ended (succeeded or failed)."""

        def ended() -> dict | None:
            answer = self.call("GET", f"/v1/jobs/{job_id}", token=token)
            assert answer.status == 200, answer
            return answer.body if answer.body["state"] in ("succeeded", "failed") else None

        return wait_until(
            ended, timeout, lambda: f"job {job_id} to end:\n{self.log()[-3000:]}", interval=0.1
        )


def make_token(env: Mapping[str, str], name: str, scope: str, *extra: str) -> str:
    proc = run_cli(env, "api", "token", "create", name, "--scope", scope, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["name"] == name and data["scope"] == scope
    return data["token"]
