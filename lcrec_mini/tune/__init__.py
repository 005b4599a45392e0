"""Alignment tuning: the LLM with index tokens, the objective, the trainer, the tune stage."""
