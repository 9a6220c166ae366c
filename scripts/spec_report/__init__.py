"""The change report of `make generate` and `make spec-watch`: what a vendor release changes, and
for whom it breaks. One job per module:

- spec_diff: differences between the committed normalised spec and the new one (`Change`s judged
  for deployed clients and for code);
- api_diff: the generated packages' public Python API compared with griffe;
- wrapper_users: which wrapper methods reach which generated objects (an `ast` scan);
- summary: changes grouped per operation or model and per public Python name, and the semver bump;
- render: the console text, the spec/CHANGES.md section and the release pull request's body.

Inputs per vendor: the tree's own generated/spec/<vendor>.openapi.json (the baseline, never git
history) and the one just built. Any BREAKING entry stops `make generate` unless it runs with
ALLOW_BREAKING=1.
"""

from .api_diff import api_changes
from .changes import BREAKING, OK, PYTHON_API, REVIEW, Change, Verdict
from .render import VendorReport, digest, update_changes_file
from .spec_diff import spec_changes
from .summary import Bump, bump_for, group_changes
from .wrapper_users import wrapper_users

__all__ = [
    "BREAKING",
    "OK",
    "PYTHON_API",
    "REVIEW",
    "Bump",
    "Change",
    "VendorReport",
    "Verdict",
    "api_changes",
    "bump_for",
    "digest",
    "group_changes",
    "spec_changes",
    "update_changes_file",
    "wrapper_users",
]
