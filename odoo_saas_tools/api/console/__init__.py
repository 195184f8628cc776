"""The hoster's console (docs/console.md): shell pages rendered here, data fetched by the
browser from the API's own routes with the operator's token (console.js)."""
