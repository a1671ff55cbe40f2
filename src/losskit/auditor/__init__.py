"""Loss audit: edge batches and consistency checks for any loss callable, and a runtime lint.

``losskit.audit`` (:func:`losskit.auditor.checks.audit`) and ``losskit.check``
(:func:`losskit.auditor.lint.check`) are the entry points.
"""

from losskit.auditor.checks import AuditReport, CheckResult, audit
from losskit.auditor.lint import LintWarning, check

__all__ = ["AuditReport", "CheckResult", "LintWarning", "audit", "check"]
