"""The ledger of redeemed embed tokens: each token id opens a panel once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.storage.schema import embed_token_uses

# A token expired this long ago cannot verify any more (the verifier's clock leeway is
# smaller), so its row has done its job.
_KEEP_AFTER_EXPIRY = timedelta(minutes=1)


class EmbedLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def redeem(self, token_id: str, expires_at: datetime) -> bool:
        """True the first time `token_id` is redeemed, False on every later try, from any
        server process sharing the database."""
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    embed_token_uses.delete().where(
                        embed_token_uses.c.expires_at < now - _KEEP_AFTER_EXPIRY
                    )
                )
                conn.execute(
                    embed_token_uses.insert().values(token_id=token_id, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True
