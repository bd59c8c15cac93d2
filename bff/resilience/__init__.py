"""Retry pacing, circuit breakers and the attempt plan that ties them to the routes."""
