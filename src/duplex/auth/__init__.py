"""Authentication and authorisation: password hashing, tokens, API keys, role checks, throttling."""
