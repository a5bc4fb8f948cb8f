"""What the REST APIs of every app share, below them all: how the API describes itself (openapi.py)."""
