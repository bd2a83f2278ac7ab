"""A tiny service monitor: a health-check scheduler and an event dispatcher."""
