"""The declarations of the built-in sources that are declared, not coded (package data, read by jisseki.sources)."""
