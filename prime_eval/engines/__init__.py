"""Inference engines, one adapter each, shared by evaluation (``prime_eval.backends``) and the trainer's rollouts
(``prime_train.rollout``): token ids in, token ids and their log-probs out. Text, prompts and files are the callers'."""
