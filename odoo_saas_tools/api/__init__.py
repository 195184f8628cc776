"""The control API (issue 28, docs/api.md): a FastAPI app whose routes validate with pydantic,
call one control/tenants/backups function each and answer errors as RFC 9457 problem details;
served by uvicorn through core.asgi_server."""
