"""The control plane's operations (issue 28): plans, suspension, the lifecycle loop, events.

Each operation is one function the CLI command and the API route both call.
"""
