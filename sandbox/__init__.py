"""prime's sandbox: run untrusted programs isolated, bounded and never in the caller's process.

    >>> import sandbox
    >>> sandbox.run("print(6 * 7)").stdout
    '42\\n'

``run`` and ``run_many`` use the ``local`` backend (bubblewrap namespaces, cgroups, rlimits) unless told
otherwise; ``docker`` runs the same box in a container. Importing this package imports neither backend.
"""

from .backends import Backend, Job, get_backend, run, run_many
from .execution import ExecStatus, Execution
from .limits import Limits

__all__ = ["Backend", "Job", "ExecStatus", "Execution", "Limits", "get_backend", "run", "run_many"]
