"""The event's settings on the live page: the agent's (mode, thresholds, allowed types, hourly cap,
suggestion lifetime) and the anomaly detector's thresholds. Pure layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from dash import dcc, html

from components import ids
from components.agent_panel import MODE_HELP, type_label
from services.core.vocabulary import INTERVENTION_TYPES, AgentMode
from services.storage.agent_settings import AgentSettings
from services.storage.alert_settings import AlertKind, AlertSettings

# Pattern-matching id type of the detector's number inputs; the index is the setting's name.
DETECTOR_INPUT = "detector-setting"

DETECTOR_LABELS: dict[str, str] = {
    "sensitivity": "Sensitivity (0.1 quiet … 10 eager)",
    "cooldown_seconds": "Cooldown before the same anomaly re-opens (s)",
    "mass_exit_share": "Mass exit: share of the room leaving",
    "mass_exit_critical_share": "Mass exit: share that makes it critical",
    "mass_exit_min_users": "Mass exit: fewest people leaving",
    "mass_exit_min_audience": "Mass exit: smallest room judged",
    "drop_ratio": "Sudden drop: activity at most this share of usual",
    "decline_ratio": "Gradual decline: activity at most this share",
    "low_ratio": "Low engagement: activity at most this share",
    "low_seconds": "Low engagement: for this long (s)",
    "low_score": "Low engagement: score floor",
    "low_score_seconds": "Low engagement: below the floor for (s)",
    "critical_ratio": "Critical below this share of usual activity",
    "recover_ratio": "Recovered at this share of usual activity",
    "max_episode_seconds": "Longest episode before it closes unrecovered (s)",
}


def detector_label(name: str) -> str:
    """A detector setting as the form names it, in messages about it."""
    return f"“{DETECTOR_LABELS.get(name, name)}”"


def _number(label: str, component_id: object, value: float) -> html.Div:
    # A text field, not type="number": the browser empties a number its `step` forbids (2.5
    # people), and an empty value would save the default without a word. The server judges
    # what was typed, with the same checks as the command line.
    return html.Div(
        className="setting",
        children=[
            html.Label(label),
            dcc.Input(id=component_id, type="text", value=value, debounce=True),
        ],
    )


class WritingStatus(NamedTuple):
    """The language-model writer as an event's settings show it."""

    configured: bool  # the server has a model (ANTHROPIC_API_KEY)
    spent: int  # tokens the event's interventions have spent on writing
    budget: int  # the budget in force: the event's own, else the server's


def spend_text(status: WritingStatus, allowed: bool) -> str:
    spend = f"{status.spent:,} of {status.budget:,} tokens spent"
    if not status.configured:
        return (
            "No language model is configured on this server (ANTHROPIC_API_KEY): interventions "
            "are written from templates."
        )
    if not allowed:
        return f"Off: interventions are written from templates. {spend}."
    if status.spent >= status.budget:
        return f"Budget reached, writing stopped: {spend}. Raise the budget to go on."
    return f"On: {spend}."


def _writing_fields(agent: AgentSettings, writing: WritingStatus) -> list[html.Div]:
    return [
        html.Div(
            className="setting setting-row",
            children=[
                dcc.Checklist(
                    id=ids.SETTINGS_WRITTEN,
                    className="setting-toggle",
                    options=[
                        {
                            "label": "Let the language model write this event's interventions "
                            "(it reads the room's last few chat messages; they are never stored)",
                            "value": "on",
                        }
                    ],
                    value=["on"] if agent.written_content else [],
                ),
            ],
        ),
        _number("Token budget (event)", ids.SETTINGS_TOKEN_BUDGET, writing.budget),
        html.Div(
            spend_text(writing, agent.written_content),
            id=ids.SETTINGS_TOKEN_SPEND,
            className="setting card-note",
            role="status",
        ),
    ]


ALERT_KIND_LABELS = {
    AlertKind.ANOMALY_OPENED: "An anomaly begins",
    AlertKind.ANOMALY_CRITICAL: "An anomaly is or becomes CRITICAL",
    AlertKind.SUGGESTION_WAITING: "A suggestion waits for approval",
    AlertKind.OUTCOME_MEASURED: "An intervention's outcome is measured",
}


def _alert_fields(alerts: AlertSettings, dead: Sequence[Mapping[str, Any]]) -> list[Any]:
    hooks = [
        html.Li(f"{hook.url.split('?', 1)[0]}" + (" (Slack)" if hook.slack else ""))
        for hook in alerts.webhooks
    ]
    failures = [
        html.Li(
            f"{entry['at'][:19].replace('T', ' ')} UTC · {entry['channel']} to "
            f"{entry['to']} · {entry['subject']} · {entry['reason']} after "
            f"{entry['attempts']} attempt(s)"
        )
        for entry in dead[:10]
    ]
    return [
        html.Div(
            className="setting setting-row",
            children=[
                html.Label("E-mail alerts to (comma-separated)", htmlFor=ids.SETTINGS_ALERT_EMAILS),
                dcc.Input(
                    id=ids.SETTINGS_ALERT_EMAILS,
                    type="text",
                    value=", ".join(alerts.emails),
                    debounce=True,
                    placeholder="producer@example.com, stage-manager@example.com",
                ),
            ],
        ),
        html.Div(
            className="setting setting-row",
            children=[
                html.Label("Alert when"),
                dcc.Checklist(
                    id=ids.SETTINGS_ALERT_KINDS,
                    options=[
                        {"label": text, "value": kind.value}
                        for kind, text in ALERT_KIND_LABELS.items()
                    ],
                    value=[kind.value for kind in alerts.kinds],
                    inline=True,
                ),
            ],
        ),
        html.Div(
            className="setting",
            children=[
                html.Label("“An anomaly begins” for", htmlFor=ids.SETTINGS_ALERT_SEVERITY),
                dcc.Dropdown(
                    id=ids.SETTINGS_ALERT_SEVERITY,
                    options=[
                        {"label": "WARNING and CRITICAL", "value": "WARNING"},
                        {"label": "CRITICAL only", "value": "CRITICAL"},
                    ],
                    value=alerts.min_severity,
                    clearable=False,
                ),
            ],
        ),
        html.Div(
            className="setting card-note",
            children=[
                "Webhooks (set over the API, docs/api.md; their secrets never show here): ",
                html.Ul(hooks) if hooks else "none.",
            ],
        ),
        html.Div(
            id=ids.SETTINGS_ALERT_DEAD,
            className="setting setting-row card-note",
            children=[
                "Alerts that could not be delivered: ",
                html.Ul(failures) if failures else "none.",
            ],
        ),
    ]


def settings_panel(
    event_id: str | None,
    agent: AgentSettings,
    detector_values: Mapping[str, float | int],
    detector_overridden: set[str],
    writing: WritingStatus,
    alerts: AlertSettings,
    dead_letters: Sequence[Mapping[str, Any]],
) -> html.Details:
    """`detector_values` are the values in force; those in `detector_overridden` are the event's."""
    if event_id is None:
        return html.Details(
            className="card settings-panel",
            children=[
                html.Summary("Event settings"),
                html.Div(
                    "This session names no event, so it runs on the defaults.",
                    className="notice notice-empty",
                ),
            ],
        )
    detector_fields = []
    for name, label in DETECTOR_LABELS.items():
        value = detector_values[name]
        marker = " (event's)" if name in detector_overridden else ""
        detector_fields.append(
            _number(label + marker, {"type": DETECTOR_INPUT, "name": name}, value)
        )
    return html.Details(
        id=ids.SETTINGS_PANEL,
        className="card settings-panel",
        children=[
            html.Summary(f"Settings of event {event_id}"),
            html.H3("Intervention agent", className="panel-subtitle"),
            html.Div(
                className="settings-grid",
                children=[
                    html.Div(
                        className="setting",
                        children=[
                            html.Label("Mode", htmlFor=ids.SETTINGS_MODE),
                            dcc.Dropdown(
                                id=ids.SETTINGS_MODE,
                                options=[
                                    {"label": f"{m.value}: {MODE_HELP[m]}", "value": m.value}
                                    for m in AgentMode
                                ],
                                value=agent.mode.value,
                                clearable=False,
                            ),
                        ],
                    ),
                    _number(
                        "Act alone at confidence ≥ (SEMI_AUTO)",
                        ids.SETTINGS_APPROVE,
                        agent.approve_threshold,
                    ),
                    _number(
                        "Suggest nothing below confidence",
                        ids.SETTINGS_MIN_CONFIDENCE,
                        agent.min_confidence,
                    ),
                    _number(
                        "Interventions per hour (event)",
                        ids.SETTINGS_HOURLY_CAP,
                        agent.hourly_cap,
                    ),
                    _number(
                        "Suggestion expires after (s)",
                        ids.SETTINGS_TTL,
                        agent.suggestion_ttl_seconds,
                    ),
                    html.Div(
                        className="setting",
                        children=[
                            html.Label("Allowed types"),
                            dcc.Checklist(
                                id=ids.SETTINGS_TYPES,
                                options=[
                                    {"label": type_label(arm.value), "value": arm.value}
                                    for arm in INTERVENTION_TYPES
                                ],
                                value=[arm.value for arm in agent.allowed_types],
                                inline=True,
                            ),
                        ],
                    ),
                ],
            ),
            html.H3("Content writing", className="panel-subtitle"),
            html.Div(className="settings-grid", children=_writing_fields(agent, writing)),
            html.H3("Alerts to organisers who are not watching", className="panel-subtitle"),
            html.Div(className="settings-grid", children=_alert_fields(alerts, dead_letters)),
            html.H3("Anomaly detection", className="panel-subtitle"),
            html.Div(className="settings-grid", children=detector_fields),
            html.Button("Save settings", id=ids.SETTINGS_SAVE, className="button button-primary"),
            html.Div(id=ids.SETTINGS_MESSAGE, className="agent-message", role="status"),
        ],
    )
