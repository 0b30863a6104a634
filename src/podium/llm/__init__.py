"""The model gateway: any litellm provider, the embedded local model, the scripted model."""
