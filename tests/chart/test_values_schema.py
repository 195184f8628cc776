"""Values the chart must refuse, each with a message that says what is wrong."""

from __future__ import annotations

import pytest


def test_several_web_replicas_without_redis_are_refused(render_error):
    err = render_error("minimal-values.yaml", sets=("web.replicas=3",))
    assert "web.replicas > 1" in err and "redis.enabled=true" in err


def test_autoscaling_without_redis_is_refused(render_error):
    err = render_error("minimal-values.yaml", sets=("web.autoscaling.enabled=true",))
    assert "redis.enabled=true" in err


def test_several_replicas_with_redis_are_accepted(render):
    docs = render(
        "minimal-values.yaml", sets=("web.replicas=2", "redis.enabled=true", "redis.host=valkey")
    )
    assert any(d["kind"] == "Deployment" for d in docs)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("web.replicas=two", "/web/replicas"),
        ("web.replicaz=2", "replicaz"),
        ("postgresql.port=0", "/postgresql/port"),
        ("postgresql.user=postgres", "/postgresql/user"),
        ("backup.schedule=every day", "/backup/schedule"),
        ("backup.format=tar", "/backup/format"),
        ("odoo.logLevel=loud", "/odoo/logLevel"),
        ("odoo.limitMemorySoft=lots", "/odoo/limitMemorySoft"),
        ("ingress.tls.enabled=yes", "/ingress/tls/enabled"),
        ("tenants[0].name=Not_A_Label", "/tenants/0/name"),
        ("tenants[0].name=acme,tenants[0].modulez[0]=sale", "modulez"),
        (
            "odoo.extraEnv[0].name=ODOO_DB_PASSWORD,odoo.extraEnv[0].value=x",
            "/odoo/extraEnv/0/name",
        ),
        ("domain=not a domain", "/domain"),
        ("backup.offsite=borg", "/backup/offsite"),
        ("backup.prune.schedule=weekly", "/backup/prune/schedule"),
        ("backup.encryption.passwordKey=a key", "/backup/encryption/passwordKey"),
        ("restore.maxDbSize=lots", "/restore/maxDbSize"),
        ("templateCache.maxCount=0", "/templateCache/maxCount"),
    ],
)
def test_schema_refuses_typos_and_wrong_types(render_error, setting, message):
    err = render_error("minimal-values.yaml", sets=(setting,))
    assert message in err, err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("postgresql.host=",), "/postgresql/host"),
        (("adminPassword.existingSecret=",), "/adminPassword/existingSecret"),
        (("backup.s3.bucket=b",), "backup.s3.existingSecret"),
        (("redis.enabled=true",), "redis.host"),
        (("restore.enabled=true",), "restore.tenant"),
        (("clone.enabled=true", "clone.source=a"), "clone.target"),
        (("httpRoute.enabled=true",), "httpRoute.parentRefs"),
        (("backup.offsite=restic",), "backup.s3.bucket"),
        (
            ("backup.offsite=restic", "backup.s3.bucket=b", "backup.s3.existingSecret=s3"),
            "backup.encryption.existingSecret",
        ),
        (("backup.encryption.existingSecret=key",), "only with backup.offsite=restic"),
    ],
)
def test_incomplete_values_are_refused_with_a_message(render_error, values, message):
    assert message in render_error("minimal-values.yaml", sets=values)
