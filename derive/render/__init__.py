"""Rendering: sheets and graphs (templates/); the notation itself is derive/notation.py."""
