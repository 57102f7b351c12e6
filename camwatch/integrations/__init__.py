"""Integrations: listeners, MQTT, hooks, metrics and the bounded worker."""
