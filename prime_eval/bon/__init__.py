"""Best-of-N bench: label candidates with the shared verifier, score them with a reward model, report
bon@N, pass@N, random@N, maj@N and weighted_maj@N as exact expectations over N-subsets of each pool."""

from .bench import CandidatesError, read_candidates, run_bon
from .metrics import VOTE_WEIGHTS, Scored, bon_at_n, random_at_n, weighted_maj_at_n
from .reward_models import REWARD_MODELS, Candidate, FieldRM, OracleRM, RewardModel, ScoreError

__all__ = [
    "REWARD_MODELS",
    "VOTE_WEIGHTS",
    "Candidate",
    "CandidatesError",
    "FieldRM",
    "OracleRM",
    "RewardModel",
    "ScoreError",
    "Scored",
    "bon_at_n",
    "random_at_n",
    "read_candidates",
    "run_bon",
    "weighted_maj_at_n",
]
