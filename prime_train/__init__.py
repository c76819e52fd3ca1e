"""prime_train: the PRIME RL trainer (policy, frozen reference, implicit PRM on DeepSpeed)."""

__version__ = "0.1.0"
