"""The one way odoo-saas serves HTTP: an ASGI app under uvicorn (h11, plain asyncio), bounded.

A thread per connection let a few clients that never finish their request starve everyone else
(issue 26: four workers held by four such clients left Prometheus without an answer). On one event
loop a waiting connection costs a socket and a few kilobytes, no thread. Uvicorn alone is not
enough: its keep-alive timeout starts only after a first answer (a connection that sends half a
request line is kept forever, and every byte received cancels the timer), and limit_concurrency
counts those connections and answers 503 to the real client. So every connection here gets a
deadline that received bytes never push back, and the open connections are capped by closing the
oldest: a new client is always heard, and descriptors stay far below a container's 1024.
uvloop and httptools are never used, installed or not: the guard is written for h11.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from odoo_saas_tools.core.errors import SaasError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one client may cost. The defaults suit a scrape or an API call on a local network."""

    header_timeout: float = 5.0  # to send a whole request, from the connection or the last answer
    response_timeout: float = 10.0  # then, for an answer still being made or streamed
    max_connections: int = 128  # open at once; beyond, the oldest is closed
    backlog: int = 128  # connected, not accepted yet (kernel memory only)
    accept_batch: int = 32  # accepted per turn of the event loop (see make_server)
    max_head_bytes: int = 8192  # request line and headers
    shutdown_timeout: int = 2  # answers in progress at SIGTERM (supervisord waits 5 s)


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a per-connection deadline and a cap on open connections."""

    def __init__(self, *args: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.waiting_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._granted: object = None  # the request already given response_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._wait_for_request()
        self._close_oldest()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_request()  # keep-alive: the next request has the same deadline

    def _wait_for_request(self) -> None:
        self.waiting_since = self.loop.time()
        self._cancel()
        self._timer = self.loop.call_later(self.limits.header_timeout, self._expire)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def answering(self) -> bool:
        """A whole request arrived and its answer is not written yet."""
        return self.cycle is not None and not self.cycle.response_complete

    def _expire(self) -> None:
        self._timer = None
        if self.answering and self._granted is not self.cycle:
            self._granted = self.cycle  # give the answer its time, once
            self._timer = self.loop.call_later(self.limits.response_timeout, self._expire)
            return
        self.transport.abort()  # not close(): a client that stops reading would keep the socket

    def _close_oldest(self) -> None:
        others = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and c is not self and not c.transport.is_closing()
        ]
        excess = len(others) + 1 - self.limits.max_connections
        if excess > 0:
            # those still waiting for a request first: a real client's is soon being answered
            for conn in sorted(others, key=lambda c: (c.answering, c.waiting_since))[:excess]:
                conn.transport.abort()


def listen(bind: str, port: int, backlog: int = Limits.backlog) -> socket.socket:
    """A listening TCP socket, IPv6 when the address is one. OSError is for the caller to word."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when it is said, and
    # without it a keep-alive client waits ~40 ms (Nagle against delayed ACK) for each answer
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def serve(
    app: Any,
    bind: str,
    port: int,
    limits: Limits = Limits(),
    *,
    started: Callable[[int], None] | None = None,
    stopped: Callable[[], None] | None = None,
) -> None:
    """Serve app on bind:port until SIGTERM or SIGINT, the one way every server of ours runs.

    started(the port bound) runs once the signals are handled, before the first request (start
    background work there, and log where it listens); stopped() once the server stopped, also
    on an error. A port that cannot be bound is a SaasError naming it."""
    try:
        sock = listen(bind, port)
    except OSError as exc:
        raise SaasError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from exc
    server = make_server(app, limits)

    def stop(signum: int, _frame: object) -> None:
        # before the server runs, or once it stopped on this signal (uvicorn raises it again)
        log.info("stopping on signal %d", signum)
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if started is not None:
            started(sock.getsockname()[1])
        server.run(sockets=[sock])
    finally:
        if stopped is not None:
            stopped()
        sock.close()


def make_server(app: Any, limits: Limits = Limits()) -> uvicorn.Server:
    """A uvicorn server for app; run it with server.run(sockets=[listen(...)]).

    Uvicorn handles SIGTERM and SIGINT while it runs, then restores the handlers found before and
    raises the signal again: a handler installed before run() is called once the server stopped.
    """
    config = uvicorn.Config(
        app,
        http=functools.partial(GuardedH11Protocol, limits=limits),  # type: ignore[arg-type]
        loop="asyncio",
        ws="none",
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,
        timeout_keep_alive=limits.header_timeout,  # type: ignore[arg-type] - a float works
        h11_max_incomplete_event_size=limits.max_head_bytes,
        backlog=limits.accept_batch,
        timeout_graceful_shutdown=limits.shutdown_timeout,
    )
    return _Server(config, limits)


class _Server(uvicorn.Server):
    """asyncio gives one number to listen() and to the accepts per turn of its loop. Accepting few
    at a time lets a new client's request be read before newer connections can push it out (300
    clients reconnecting as fast as they can: with 128 per turn about 1 scrape in 40 was reset,
    with 32 none), and a long kernel queue spares a burst of connections the one-second SYN retry
    (300 connections at once took 7 s with a queue of 32, 1-2 s with 128). So: both."""

    def __init__(self, config: uvicorn.Config, limits: Limits) -> None:
        super().__init__(config)
        self.limits = limits

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        for sock in sockets or []:
            sock.listen(self.limits.backlog)
