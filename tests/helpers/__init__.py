"""Test helpers in one place: fakes, servers, brokers, clients, media, browser fixtures."""
