"""Unit tests of the clearing service (a package, so its module names stay apart from other services' tests)."""
