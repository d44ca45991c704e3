"""Helpers the tests share (factories, paths, assertions): imported, never collected."""
