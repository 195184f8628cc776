"""What every check returns: findings (ok / warning / error), printed as one table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from odoo_saas_tools.core.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

OK = "ok"
WARNING = "warning"
ERROR = "error"
CONFIG_CHECKS = {"settings"}  # errors of these checks are configuration errors (exit 2)


@dataclass(frozen=True)
class Finding:
    check: str  # the check family: settings, postgres, directories, addons, python, tenants ...
    item: str  # what is concerned: a variable, a directory, an addon, a package, a tenant
    status: str  # ok, warning or error
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # Tenants that must not be served (other Odoo version, failed upgrade): dbfilter excludes them.
    excluded_tenants: dict[str, str] = field(default_factory=dict)

    def add(self, check: str, item: str, status: str, message: str) -> Finding:
        finding = Finding(check, item, status, message)
        self.findings.append(finding)
        return finding

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.status == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == WARNING]

    @property
    def exit_code(self) -> int:
        errors = self.errors
        if not errors:
            return EXIT_OK
        if any(f.check in CONFIG_CHECKS for f in errors):
            return EXIT_USAGE
        return EXIT_FAILURE

    def summary(self) -> str:
        ok = sum(1 for f in self.findings if f.status == OK)
        errors, warnings = len(self.errors), len(self.warnings)
        verdict = "start refused" if errors else "ready to start"
        return f"{ok} ok, {warnings} warning(s), {errors} error(s): {verdict}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [asdict(f) for f in self.findings],
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "excluded_tenants": self.excluded_tenants,
            "summary": self.summary(),
            "exit_code": self.exit_code,
        }

    def print_table(self, stream: TextIO) -> None:
        """One aligned table; long messages are kept whole (they name the fix)."""
        rows = [("STATUS", "CHECK", "ITEM", "MESSAGE")]
        rows += [(f.status.upper(), f.check, f.item, f.message) for f in self.findings]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            head = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
            stream.write(f"{head}  {row[3]}\n")
        stream.write(self.summary() + "\n")
