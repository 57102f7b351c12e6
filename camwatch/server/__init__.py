"""The Tornado web server: app factory and request handlers."""
