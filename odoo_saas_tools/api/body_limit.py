"""Request bodies are read whole, and refused with 413 past a limit, before the app sees them.

A body's Content-Length over the limit is refused before a byte of it is read; a chunked body is
counted as it arrives and refused as soon as it passes the limit. The app then gets the body it
would have read itself, so a route never parses more than MAX_BYTES.
"""

from __future__ import annotations

from typing import Any

from odoo_saas_tools.api.problems import ApiProblem

MAX_BYTES = 64 * 1024  # the largest request the API has is a few hundred bytes

Scope = dict[str, Any]


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int = MAX_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit():
                await _refuse(scope, send, ApiProblem(400, "Content-Length is not a number"))
                return
            if int(length) > self.max_bytes:
                await _refuse(scope, send, self._too_large())
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(scope, send, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> ApiProblem:
        return ApiProblem(413, f"the request body is larger than {self.max_bytes} bytes")


async def _refuse(scope: Scope, send: Any, problem: ApiProblem) -> None:
    response = problem.response(scope.get("path"))
    response.headers["Connection"] = "close"
    await response(scope, _no_receive, send)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
