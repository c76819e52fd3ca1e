"""Reward models: the implicit PRM's token rewards (shared with ``prime_train``), outcome reward models, and the
step-level and offline-training tools around them. Submodules import torch; this package itself does not."""
