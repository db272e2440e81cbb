"""The event platform's names (design §2, §3): streams, channels, the consumer group, id rules.

The contract's names only; validating payloads is `services.ingest.contracts`' job.
"""

from __future__ import annotations

from services.core.vocabulary import InterventionType

CONSUMER_GROUP = "engagement-conductor"

CHAT_STREAM = "platform.events.chat.message.v1"
POLL_VOTE_STREAM = "platform.events.poll.vote.v1"
POLL_CLOSED_STREAM = "platform.events.poll.closed.v1"
LIVE_SYNC_STREAM = "platform.events.live.sync.v1"
REACTION_STREAM = "platform.events.live.reaction.v1"
SIGNAL_STREAMS = (
    CHAT_STREAM,
    POLL_VOTE_STREAM,
    POLL_CLOSED_STREAM,
    LIVE_SYNC_STREAM,
    REACTION_STREAM,
)

DEAD_LETTER_STREAM = "engagement-conductor.dead-letter.v1"
ENGAGEMENT_CHANNEL = "engagement:update"
ANOMALY_CHANNEL = "anomaly:detected"
PUSH_CHANNEL_PREFIX = "engagement-conductor:push:"

# The `signals` object of engagement:update (design §3), in the contract's order.
SIGNAL_NAMES = (
    "chat_msgs_per_min",
    "poll_participation",
    "active_users",
    "total_users",
    "reactions_per_min",
    "user_leave_rate",
)

MAX_ID_LENGTH = 255

AGENT_CHANNEL = "agent.interventions"  # design §3: pub/sub, the platform executes what it hears
OUTCOME_STREAM = "platform.agent.intervention-outcomes.v1"  # design §2

# The `type` of the agent.interventions message for each arm (design §3).
PLATFORM_MESSAGE_TYPE: dict[InterventionType, str] = {
    InterventionType.POLL: "agent.intervention.poll",
    InterventionType.CHAT_PROMPT: "agent.intervention.broadcast",
    InterventionType.NOTIFICATION: "agent.intervention.notification",
    InterventionType.GAMIFICATION: "agent.intervention.gamification",
}

# The platform's challenge templates (design §3).
CHALLENGE_TEMPLATES = ("CHAT_BLITZ", "POLL_RUSH", "QA_SPRINT", "POINTS_RACE")


def valid_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and value.strip() == value
    )
