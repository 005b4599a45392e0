"""Generation and evaluation: the prefix trie, constrained beam search, metrics, the eval stage."""
