"""Local stateful fakes of the Unify and Boast APIs, for tests, demos and benchmarks.

Needs the `sandbox` extra (starlette, uvicorn). `import sequence_clients` never imports this
package, so API clients do not pull in server dependencies.
"""

from .core import Exchange, FaultConfig, FaultStats, SandboxConfig
from .server import Sandbox, SandboxStats, serve

__all__ = [
    "Exchange",
    "FaultConfig",
    "FaultStats",
    "Sandbox",
    "SandboxConfig",
    "SandboxStats",
    "serve",
]
