"""The shell's alerts: CRITICAL anomalies in sessions the producer is not looking at. They float
over the page's corner (never pushing it down), fold into one line, and each can be dismissed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from components import ids
from components.live_page import live_href


def _alert(episode: Mapping[str, Any]) -> html.Div:
    episode_id = str(episode["episode_id"])
    kind = str(episode["type"]).replace("_", " ").lower()
    where = episode.get("session_title") or episode["session_id"]
    return html.Div(
        className="critical-alert",
        **{"data-episode": episode_id},
        children=[
            html.Strong("CRITICAL "),
            f"{kind} in {where} since {str(episode['started'])[11:19]} UTC — ",
            dcc.Link("open it", href=live_href(str(episode["session_id"]))),
            html.Button(
                "Dismiss",
                id={"type": ids.ALERT_DISMISS, "episode": episode_id},
                className="alert-dismiss",
                type="button",
                title="Dismiss this alert (it will not come back)",
            ),
        ],
    )


def alert_items(episodes: Sequence[Mapping[str, Any]]) -> list[html.Details]:
    if not episodes:
        return []
    count = len(episodes)
    summary = f"{count} critical alert" + ("" if count == 1 else "s") + " in other sessions"
    return [
        html.Details(
            open=True,
            className="alerts-box",
            children=[html.Summary(summary), *(_alert(episode) for episode in episodes)],
        )
    ]
