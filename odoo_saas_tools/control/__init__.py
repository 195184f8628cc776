"""The control plane's operations (issue 28): jobs and their runner, API tokens, the audit trail,
idempotency keys, plans, suspension, the lifecycle loop, events and the tenant as the API shows
it. Each operation is one function that the CLI command and the API route both call."""
