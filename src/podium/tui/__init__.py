"""The Textual app. Never imports litellm; renders from store events and queries."""
