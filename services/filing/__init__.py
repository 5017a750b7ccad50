"""Filing service 备案 (RULES.md F-01..F-16)."""
