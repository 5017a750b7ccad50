"""HIS traffic simulator: hospitals' adapters and agency clerks producing a realistic mix of
filings and settlement requests, with every result checked."""
