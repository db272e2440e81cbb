"""Who may see what: signed sign-in and API tokens, the signed-in principal, the one guard in
front of every session a browser names, what a principal may see, and the ledger of redeemed
embed tokens.

Imports `services.core` and `services.storage`.
"""
