"""Model gateway over litellm: any provider, the local model, the scripted model."""
