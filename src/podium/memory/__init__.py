"""Long-term memory: embeddings, vectors (sqlite-vec) and full-text recall."""
