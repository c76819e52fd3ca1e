"""The shared verifier: one interface, used by evaluation, Best-of-N labels and training rewards."""

from .base import Status, Verdict, Verifier
from .pool import verify_batch

__all__ = ["Status", "Verdict", "Verifier", "verify_batch"]
