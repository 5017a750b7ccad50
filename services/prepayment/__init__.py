"""Prepayment service 预付金 (P-01..P-10): a ledger of movements per account, interest by 积数法."""
