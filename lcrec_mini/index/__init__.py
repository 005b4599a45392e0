"""Item indexing: text embeddings, the RQ-VAE, uniform semantic mapping, the collision step."""
