"""`odoo-saas api serve`: the control API, its job runner, the webhook delivery loop and the
lifecycle loop in one process.

Served by uvicorn on one event loop with the limits of core.asgi_server (routes run in its
thread pool; jobs, deliveries and lifecycle turns in threads of their own). On SIGTERM it stops
answering, waits a while for running jobs, and leaves those still running to the next start (or
another replica), which recovers them as after a kill; a delivery cut off is sent again.
"""

from __future__ import annotations

import logging

from odoo_saas_tools.api.app import create_app
from odoo_saas_tools.catalog import store
from odoo_saas_tools.control import lifecycle, webhook_delivery
from odoo_saas_tools.control.jobs import Runner
from odoo_saas_tools.core import asgi_server
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

LIMITS = asgi_server.Limits(response_timeout=60.0, shutdown_timeout=5)
POOL_SIZE = 12
JOBS_WAIT_SECONDS = 20.0  # supervisord's stopwaitsecs for `api` is 30
DELIVERY_WAIT_SECONDS = 3.0


def serve(settings: Settings, bind: str, port: int) -> None:
    if not settings.manages:
        raise ConfigError(
            "the control API needs the management role: set ODOO_SAAS_DB_PASSWORD "
            "(or ODOO_SAAS_DB_PASSWORD_FILE)"
        )
    store.ensure(settings)
    # the routes' threads (anyio: 40), the jobs', the deliveries' and the lifecycle's share
    # these; a caller waits for a free one
    store.use_pool(settings, POOL_SIZE + settings.api_jobs + webhook_delivery.WORKERS + 1)
    runner = Runner(settings)
    deliverer = webhook_delivery.Deliverer(settings)
    turns = lifecycle.Loop(settings, settings.lifecycle_seconds)

    def started(bound_port: int) -> None:
        runner.start()
        deliverer.start()
        turns.start()
        log.info(
            "serving the control API on %s:%d (%d jobs at once)", bind, bound_port, runner.workers
        )

    def stopped() -> None:
        turns.stop(0)  # no new turn, no new attempt; the jobs get supervisord's wait
        deliverer.stop(0)
        left = runner.stop(JOBS_WAIT_SECONDS)
        deliverer.stop(DELIVERY_WAIT_SECONDS)  # an attempt cut off is made again later
        if left:
            log.warning("stopping with %d job(s) running: the next start recovers them", len(left))

    asgi_server.serve(
        create_app(settings, runner), bind, port, LIMITS, started=started, stopped=stopped
    )
