"""Fixtures for the health check: an environment with free ports for Odoo."""

from __future__ import annotations

import pytest

from tests.support.net import free_port


@pytest.fixture
def health_env(saas_env: dict[str, str]) -> dict[str, str]:
    return {
        **saas_env,
        "ODOO_HTTP_PORT": str(free_port()),
        "ODOO_GEVENT_PORT": str(free_port()),
        "ODOO_METRICS_PORT": str(free_port()),
    }
