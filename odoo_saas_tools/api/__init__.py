"""The control API (issue 28): HTTP routes over the domain functions, served by uvicorn through
core/asgi_server."""
