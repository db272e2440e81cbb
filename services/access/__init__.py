"""Who may see what: signed sign-in and API tokens, and the ledger of redeemed embed tokens.

Imports `services.core` and `services.storage`.
"""
