"""The shell's alert strip: a CRITICAL anomaly in a session the producer is not looking at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from components.live_page import live_href


def alert_items(episodes: Sequence[Mapping[str, Any]]) -> list[html.Div]:
    return [
        html.Div(
            className="critical-alert",
            **{"data-episode": str(episode["episode_id"])},
            children=[
                html.Strong("CRITICAL "),
                f"{str(episode['type']).replace('_', ' ').lower()} in {episode['session_id']} "
                f"since {str(episode['started'])[11:19]} UTC — ",
                dcc.Link("open it", href=live_href(str(episode["session_id"]))),
            ],
        )
        for episode in episodes
    ]
