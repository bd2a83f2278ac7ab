"""Reporters: each turns the run's findings into one output format."""
