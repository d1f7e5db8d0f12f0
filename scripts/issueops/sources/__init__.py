"""Monitor intake sources: feeds, HTTP health checks and GitHub searches.

The only I/O here goes through an injected fetcher or port, so tests never touch the network.
"""
