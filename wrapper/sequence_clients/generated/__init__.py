"""The HTTP layers generated from each vendor's OpenAPI document (`make generate`).

They live inside the product's namespace so that the wheel installs no generic top-level names.
In the repository the generator writes to `generated/`; `unify` and `boast` here are links to it.
Never edit them: change `spec/` or `scripts/` and regenerate.
"""
