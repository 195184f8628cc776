"""Odoo's JSON-RPC over HTTP, as a browser's client code calls it."""

from __future__ import annotations

import json
import urllib.request


def jsonrpc(opener: urllib.request.OpenerDirector, url: str, params: dict) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310
    with opener.open(request, timeout=30) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(str(answer["error"])[:300])
    return answer["result"]
