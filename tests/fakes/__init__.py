"""Loopback servers that play the Slack Web API and the X API for the real clients."""
