"""Monitoring loop: checks that need no labels."""
