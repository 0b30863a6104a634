"""Secrets: API keys and tool credentials in the OS keyring or an encrypted file, never in a project."""
