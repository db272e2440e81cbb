"""Every component id of the web tier, in one place; live.js gets them through its config."""

from __future__ import annotations

# Shell: present on every page.
URL = "url"
PAGE = "page"
# The live page's socket config; lives in the shell so leaving the page sets it to None and
# the browser script closes the socket.
LIVE_CONFIG = "live-config"
# Clientside callbacks need an output; nothing reads this one.
SOCKET_SINK = "live-socket-sink"

# Home page.
HOME_BODY = "home-body"
HOME_REFRESH = "home-refresh"

# Live page: pickers.
EVENT_PICK = "live-event-pick"
SESSION_PICK = "live-session-pick"
PICKER_REFRESH = "live-picker-refresh"

# Live page: state shown to the producer.
LIVE_BANNER = "live-banner"
LIGHT = "live-light"
LIGHT_TEXT = "live-light-text"
SCORE_VALUE = "live-score-value"
SCORE_CATEGORY = "live-score-category"
SCORE_UPDATED = "live-score-updated"
GRAPH = "live-graph"
LIVE_BODY = "live-body"  # greyed out while stale
SESSION_WAIT = "live-session-wait"  # a page waiting for its session's first score
STALE_BANNER = "live-stale-banner"
ANOMALY_LIST = "live-anomaly-list"

SIGNAL_CHAT = "signal-chat"
SIGNAL_POLL = "signal-poll"
SIGNAL_USERS = "signal-users"
SIGNAL_REACTIONS = "signal-reactions"
SIGNAL_LEAVE = "signal-leave"

SIGNAL_IDS: dict[str, str] = {
    "chat": SIGNAL_CHAT,
    "poll": SIGNAL_POLL,
    "users": SIGNAL_USERS,
    "reactions": SIGNAL_REACTIONS,
    "leave": SIGNAL_LEAVE,
}

# Live page: the intervention agent.
AGENT_SIGNAL = "agent-signal"  # bumped by live.js when an intervention changes: re-render
AGENT_REFRESH = "agent-refresh"  # suggestions' countdowns, and a fallback to the push
AGENT_MODE = "agent-mode"
AGENT_MODE_NOTE = "agent-mode-note"
AGENT_MESSAGE = "agent-message"
AGENT_PENDING = "agent-pending"
AGENT_LAUNCH_TYPE = "agent-launch-type"
AGENT_LAUNCH = "agent-launch"
INTERVENTION_LOG = "intervention-log"
AGENT_PERFORMANCE = "agent-performance"
AGENT_PERFORMANCE_SCOPE = "agent-performance-scope"
# Pattern-matching ids: one Approve / Dismiss button per pending suggestion.
APPROVE_BUTTON = "agent-approve"
DISMISS_BUTTON = "agent-dismiss"

# Live page: the event's settings (agent and anomaly detector).
SETTINGS_PANEL = "event-settings"
SETTINGS_MODE = "settings-agent-mode"
SETTINGS_APPROVE = "settings-approve-threshold"
SETTINGS_MIN_CONFIDENCE = "settings-min-confidence"
SETTINGS_TYPES = "settings-allowed-types"
SETTINGS_HOURLY_CAP = "settings-hourly-cap"
SETTINGS_TTL = "settings-suggestion-ttl"
SETTINGS_WRITTEN = "settings-written-content"
SETTINGS_TOKEN_BUDGET = "settings-token-budget"
SETTINGS_TOKEN_SPEND = "settings-token-spend"
SETTINGS_ALERT_EMAILS = "settings-alert-emails"
SETTINGS_ALERT_KINDS = "settings-alert-kinds"
SETTINGS_ALERT_SEVERITY = "settings-alert-severity"
SETTINGS_ALERT_DEAD = "settings-alert-dead-letters"
SETTINGS_SENSITIVITY = "settings-sensitivity"
SETTINGS_COOLDOWN = "settings-cooldown"
SETTINGS_SAVE = "settings-save"
SETTINGS_MESSAGE = "settings-message"

# Past sessions (analysts).
SESSIONS_EVENT = "sessions-event"
SESSIONS_FROM = "sessions-from"
SESSIONS_TO = "sessions-to"
SESSIONS_QUERY = "sessions-query"
SESSIONS_STATUS = "sessions-status"
SESSIONS_APPLY = "sessions-apply"
SESSIONS_TABLE = "sessions-table"
SESSION_GRAPH = "session-graph"
SESSION_AXIS_SINK = "session-axis-sink"  # the clientside signal-axis toggle's output

# Shell: CRITICAL anomalies in sessions the producer is not looking at.
ALERTS = "critical-alerts"
ALERT_POLL = "critical-alert-poll"
ALERTED = "critical-alerted"
ALERT_DISMISS = "critical-alert-dismiss"  # pattern-matching type, one per shown alert
# Opt-in browser notifications of critical alerts (the overview's controls).
NOTIFY_TOGGLE = "notify-toggle"
NOTIFY_SOUND = "notify-sound"
NOTIFY_STATUS = "notify-status"
SESSION_COMPARE = "session-compare"
SESSION_ALIGN = "session-align"
SESSION_COMPARE_APPLY = "session-compare-apply"

# Shell root: its class hides the navigation on embedded panels.
SHELL = "shell"
AGENT_LESSONS = "agent-lessons"
SIGN_OUT = "sign-out"

# Embedded panels (/embed/...).
EMBED_BODY = "embed-body"  # re-rendered body of the intervention log and event tile panels
EMBED_SIGNAL = "embed-signal"  # bumped by live.js on an intervention push
EMBED_REFRESH = "embed-refresh"

# Past sessions: score and type filters.
SESSIONS_AVG_MIN = "sessions-avg-min"
SESSIONS_AVG_MAX = "sessions-avg-max"
SESSIONS_LOWEST_MIN = "sessions-lowest-min"
SESSIONS_LOWEST_MAX = "sessions-lowest-max"
SESSIONS_BELOW = "sessions-below"
SESSIONS_BELOW_MINUTES = "sessions-below-minutes"
SESSIONS_ANOMALY = "sessions-anomaly"
SESSIONS_INTERVENTION = "sessions-intervention"
