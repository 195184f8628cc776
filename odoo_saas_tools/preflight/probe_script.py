"""Run INSIDE Odoo's Python (piped into `odoo shell`, or a plain interpreter without Odoo).

It reports Odoo's addons path in Odoo's own order (`odoo.addons.__path__`: odoo/addons, the data
dir's addons, the configured ones, the tree's addons/) and the state of each requirement.

Self-contained on purpose: it must not import odoo_saas_tools, which Odoo's interpreter may not
have. The caller prepends `REQUEST = {...}` and appends `main(REQUEST)`; the answer is one JSON
line after MARKER on stdout. Dependencies are judged exactly as Odoo 19 judges
external_dependencies: a requirement (distribution name, optional specifier and marker) first,
the import name as a fallback.
"""

import importlib.metadata
import importlib.util
import json
import sys

MARKER = "ODOO-SAAS-PROBE:"


def _status(spec, kind):
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        return "invalid", str(exc)
    if req.marker and not req.marker.evaluate():
        return "skipped", "environment marker does not match"
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        if kind == "external":
            try:
                if importlib.util.find_spec(spec) is not None:
                    return "ok", "importable"
            except (ImportError, ValueError):
                pass
        return "missing", ""
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return "mismatch", version
    return "ok", version


def main(request):
    addons_path = None
    try:
        import odoo.addons

        addons_path = [str(p) for p in odoo.addons.__path__]
    except ImportError:
        pass
    results = [
        dict(zip(("status", "detail"), _status(r["spec"], r["kind"]), strict=True), **r)
        for r in request["requirements"]
    ]
    installed = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in installed:
            installed[name] = dist.version
    answer = {
        "executable": sys.executable,
        "addons_path": addons_path,
        "has_pip": importlib.util.find_spec("pip") is not None,
        "results": results,
        "installed": installed,
    }
    sys.stdout.write(MARKER + json.dumps(answer) + "\n")
    sys.stdout.flush()
