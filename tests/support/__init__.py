"""Helpers that test modules share (fixtures, real servers, signups through the API). No tests
live here: tests/test_layout.py keeps test files in the folders that mirror the code."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
