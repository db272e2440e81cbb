"""The texts of the template library: variants per intervention type and anomaly type.

Kept apart from `services.agent.content` so that editing copy never touches the logic.
Each table maps an anomaly type (or `GENERIC`, for a producer's manual trigger or an anomaly type
the library does not know) to its variants. A variant's id is its 1-based position, and ids are
stored with every intervention and learnt from: append new variants, never reorder or delete.

Texts are `str.format` templates over these fields (only the template is parsed, never the values,
so a session title containing "{" or "%" is inserted as it is):

- `{session}` / `{Session}`: the quoted title, or "this session" / "This session" when unknown
- `{in_session}`: ' in "<title>"', or nothing when the title is unknown
- `{people}`: "42 people" / "1 person" present; `{users}`: the bare number
- `{chat}`: chat messages per minute, e.g. "3.5"; `{engagement}`: e.g. "27%"
- `{anomaly}`: the anomaly in plain words, e.g. "a sudden drop in chat and reactions"
- challenges only: `{duration}` ("3 minutes"), `{first}` (first place's points)

Audience-facing texts (polls, chat prompts, challenges) never mention the anomaly or the numbers:
telling a room it looks bored does not help. Organizer notifications do.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERIC = "GENERIC"  # the table key for no anomaly, or an anomaly type without its own variants

# The anomaly in plain words, for organizer-facing texts.
ANOMALY_WORDS: dict[str, str] = {
    "SUDDEN_DROP": "a sudden drop in chat and reactions",
    "GRADUAL_DECLINE": "a slow, steady decline in participation",
    "MASS_EXIT": "a wave of people leaving",
    "LOW_ENGAGEMENT": "engagement staying low",
    GENERIC: "a check-in requested by the producer",
}


@dataclass(frozen=True, slots=True)
class PollTemplate:
    question: str
    options: tuple[str, ...]
    seconds: int  # before the audience-size adjustment


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    message: str


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    title: str
    body: str
    suggested_action: str


@dataclass(frozen=True, slots=True)
class ChallengeTemplate:
    template: str  # one of agent_vocabulary.CHALLENGE_TEMPLATES
    name: str
    description: str
    minutes: int  # before the audience-size and engagement adjustments


POLLS: dict[str, tuple[PollTemplate, ...]] = {
    # Chat fell off a cliff: often the stream broke, or the content just got dense.
    "SUDDEN_DROP": (
        PollTemplate(
            "Quick check — how's the stream looking and sounding for you right now?",
            ("Crystal clear", "A bit choppy", "Audio problems", "Video problems"),
            60,
        ),
        PollTemplate(
            "Quick pulse check: how are you following along?",
            ("Loving it", "Following, but it's dense", "Lost me a bit", "Could use a break"),
            90,
        ),
        PollTemplate(
            "What would you like to see next?",
            ("A live demo", "Q&A with the speaker", "A real-world example", "Keep going as is"),
            90,
        ),
        PollTemplate(
            "Gut check: how were the last few minutes for you?",
            ("Great", "Good", "Okay", "Not for me"),
            60,
        ),
    ),
    "GRADUAL_DECLINE": (
        PollTemplate(
            "We're a while into {session} — how's the pace?",
            ("Too fast", "Just right", "Too slow", "Could use a break"),
            90,
        ),
        PollTemplate(
            "Which direction should we take next?",
            ("More examples", "The big picture", "Tools and tips", "Your questions"),
            120,
        ),
        PollTemplate(
            "How much of this will you use in your own work?",
            ("A lot", "Some of it", "Not much yet", "I'm just curious"),
            90,
        ),
    ),
    # People are leaving: ask those still here what would make staying worth it.
    "MASS_EXIT": (
        PollTemplate(
            "What would make the rest of {session} most worth your time?",
            ("Practical takeaways", "Live Q&A", "A demo", "A quick wrap-up"),
            90,
        ),
        PollTemplate(
            "Still with us? Tell us what brought you here:",
            ("Learning the basics", "Deep-dive details", "Meeting people", "Just checking it out"),
            60,
        ),
        PollTemplate(
            "Should we go straight to the Q&A?",
            ("Yes, Q&A now", "Finish the talk first", "A bit of both"),
            60,
        ),
    ),
    # A quiet room needs an easy, zero-risk first answer.
    "LOW_ENGAGEMENT": (
        PollTemplate(
            "Easy one to warm up: where are you joining from today?",
            ("Home", "The office", "On the go", "Somewhere else"),
            60,
        ),
        PollTemplate(
            "Be honest — how's your energy level right now?",
            ("Wide awake", "Doing fine", "Need a coffee", "Running on fumes"),
            60,
        ),
        PollTemplate(
            "What would you like more of in {session}?",
            ("Audience questions", "Live demos", "Polls like this one", "Stories and examples"),
            90,
        ),
    ),
    GENERIC: (
        PollTemplate(
            "How are you enjoying {session} so far?",
            ("Loving it", "It's good", "It's okay", "Not really for me"),
            90,
        ),
        PollTemplate(
            "What should the speaker cover next?",
            ("A concrete example", "Common pitfalls", "Tools and resources", "Audience Q&A"),
            120,
        ),
        PollTemplate(
            "How familiar were you with this topic before today?",
            (
                "Brand new to me",
                "I knew the basics",
                "Fairly experienced",
                "I could give this talk",
            ),
            90,
        ),
    ),
}


CHAT_PROMPTS: dict[str, tuple[ChatTemplate, ...]] = {
    "SUDDEN_DROP": (
        ChatTemplate(
            "Quick check-in: if the stream froze or the sound cut out for you, let us know in "
            "the chat so we can fix it."
        ),
        ChatTemplate(
            "It's gone quiet in here! What's your take on what we just covered? Drop a thought "
            "or a question in the chat."
        ),
        ChatTemplate(
            "Got a question about this part? Ask it in the chat now and we'll put it to the "
            "speaker."
        ),
    ),
    "GRADUAL_DECLINE": (
        ChatTemplate(
            "Time for a quick stretch! Tell us in the chat: what's been the most useful idea so "
            "far?"
        ),
        ChatTemplate(
            "{people} tuned in — let's hear from you. What's one thing you'll try after {session}?"
        ),
        ChatTemplate(
            "Want to steer where this goes? Reply in the chat with the topic you'd like covered "
            "next."
        ),
    ),
    "MASS_EXIT": (
        ChatTemplate(
            "Thanks for staying with us! Q&A is coming up — drop your questions in the chat now "
            "and we'll take them first."
        ),
        ChatTemplate(
            "To everyone still here: what would make the rest of {session} worth your time? "
            "Tell us in the chat."
        ),
        ChatTemplate(
            "Short on time? Tell us in the chat what you most want to hear about and we'll "
            "get to it first."
        ),
    ),
    "LOW_ENGAGEMENT": (
        ChatTemplate("Let's warm up the chat: say hi and tell us where you're joining from!"),
        ChatTemplate(
            "{people} here right now — introduce yourself in the chat with one word that sums "
            "up your week."
        ),
        ChatTemplate(
            "No wrong answers: what's one question you'd love the speaker to answer? Type it in "
            "the chat."
        ),
    ),
    GENERIC: (
        ChatTemplate("We'd love to hear from you! Share your thoughts or questions in the chat."),
        ChatTemplate("What's clicked for you so far in {session}? Tell us in the chat."),
        ChatTemplate(
            "Got a question for the speaker? Drop it in the chat — we'll pick a few to answer live."
        ),
    ),
}


NOTIFICATIONS: dict[str, tuple[NotificationTemplate, ...]] = {
    "SUDDEN_DROP": (
        NotificationTemplate(
            "Sudden drop in audience activity{in_session}",
            "Chat and reactions fell sharply: now {chat} chat messages per minute with "
            "{people} present, engagement at {engagement}. This can be a stream problem or "
            "just a slow moment.",
            "Check the stream's audio and video, then have the host invite questions.",
        ),
        NotificationTemplate(
            "Engagement fell suddenly{in_session}",
            "Detected {anomaly}. Engagement is now {engagement} ({chat} chat messages per "
            "minute, {people} present).",
            "Ask the speaker to pause and put a quick question to the audience.",
        ),
    ),
    "GRADUAL_DECLINE": (
        NotificationTemplate(
            "Engagement slowly declining{in_session}",
            "Participation has been sliding for several minutes. Engagement is {engagement}, "
            "chat at {chat} messages per minute, {people} present.",
            "Consider a change of pace: a short poll, a demo, or taking questions early.",
        ),
        NotificationTemplate(
            "Audience attention fading{in_session}",
            "Detected {anomaly}: engagement is down to {engagement} with {people} present.",
            "Suggest the speaker switch format or open the floor for questions.",
        ),
    ),
    "MASS_EXIT": (
        NotificationTemplate(
            "People are leaving{in_session}",
            "Detected {anomaly} just now; {people} still present, engagement {engagement}.",
            "Check for a technical problem or a clash with another session; consider moving "
            "to Q&A.",
        ),
        NotificationTemplate(
            "Audience drop-off{in_session}",
            "Attendance fell sharply. {people} remain, chat is at {chat} messages per minute "
            "and engagement at {engagement}.",
            "Ask the host to acknowledge the room and preview what's coming next.",
        ),
    ),
    "LOW_ENGAGEMENT": (
        NotificationTemplate(
            "Low engagement{in_session}",
            "Engagement has stayed low at {engagement} ({chat} chat messages per minute, "
            "{people} present).",
            "Run a quick poll or ask the host to invite the audience into the chat.",
        ),
        NotificationTemplate(
            "Quiet room{in_session}",
            "The audience has been quiet for a while: engagement {engagement}, {chat} chat "
            "messages per minute, {people} present.",
            "Launch a short challenge or give the audience an easy question to answer.",
        ),
    ),
    # Also the fallback for an anomaly type without its own texts, so nothing here may assume
    # that the producer asked for it or that nothing is wrong.
    GENERIC: (
        NotificationTemplate(
            "Engagement update{in_session}",
            "Engagement is {engagement} with {people} present and {chat} chat messages per minute.",
            "Keep an eye on the live chart and step in if engagement keeps dropping.",
        ),
        NotificationTemplate(
            "Audience check-in{in_session}",
            "Where the room stands: engagement {engagement}, {people} present, {chat} chat "
            "messages per minute.",
            "Touch base with the host and agree on the next audience interaction.",
        ),
    ),
}


# Which challenge suits which anomaly: a chat cliff wants chat back (CHAT_BLITZ); a slow fade
# wants a change of format; people leaving want a reason to stay (points for being there, or
# direct access to the speaker); a quiet room wants the lowest-effort entry (one-tap polls).
CHALLENGES: dict[str, tuple[ChallengeTemplate, ...]] = {
    "SUDDEN_DROP": (
        ChallengeTemplate(
            "CHAT_BLITZ",
            "Chat Blitz",
            "{duration}, one goal: get the chat buzzing. Share a question, a tip or your take "
            "on what you just heard — the top contributor earns {first} points.",
            3,
        ),
        ChallengeTemplate(
            "CHAT_BLITZ",
            "Speed Round: Ask Anything",
            "For the next {duration}, every question you post in the chat scores points. The "
            "best one earns {first} points.",
            3,
        ),
    ),
    "GRADUAL_DECLINE": (
        ChallengeTemplate(
            "QA_SPRINT",
            "Q&A Sprint",
            "You've got {duration} to ask the speaker your best questions. The most upvoted "
            "question earns {first} points.",
            5,
        ),
        ChallengeTemplate(
            "POLL_RUSH",
            "Poll Rush",
            "A rapid series of quick polls over the next {duration}. Answer fast to climb the "
            "leaderboard — first place takes {first} points.",
            3,
        ),
    ),
    "MASS_EXIT": (
        ChallengeTemplate(
            "POINTS_RACE",
            "Stay & Score",
            "Everyone who takes part in the next {duration} earns points, and the most active "
            "person takes {first}.",
            5,
        ),
        ChallengeTemplate(
            "QA_SPRINT",
            "Front-Row Q&A",
            "You made it to the good part: {duration} of questions straight to the speaker. "
            "The best question earns {first} points.",
            5,
        ),
    ),
    "LOW_ENGAGEMENT": (
        ChallengeTemplate(
            "POLL_RUSH",
            "Warm-Up Poll Rush",
            "{duration} of quick, one-tap polls. Every answer scores, and the fastest player "
            "takes {first} points.",
            3,
        ),
        ChallengeTemplate(
            "POINTS_RACE",
            "Points Race",
            "Chat, react, vote — everything you do in the next {duration} scores. Whoever "
            "leads at the end takes {first} points.",
            4,
        ),
    ),
    GENERIC: (
        ChallengeTemplate(
            "POINTS_RACE",
            "Points Race",
            "Chat, vote and react for the next {duration} to climb the leaderboard. The top "
            "spot earns {first} points.",
            5,
        ),
        ChallengeTemplate(
            "QA_SPRINT",
            "Q&A Sprint",
            "{duration} to ask the speaker anything. The most upvoted question earns {first} "
            "points.",
            5,
        ),
        ChallengeTemplate(
            "POLL_RUSH",
            "Poll Rush",
            "Quick-fire polls for the next {duration}. Answer fast to climb the leaderboard — "
            "first place takes {first} points.",
            3,
        ),
    ),
}
