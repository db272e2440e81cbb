"""One simulated session: its audience's behaviour over time, turned into platform payloads.

Each whole second (counted from the start) gets its Poisson draws once, when the simulation first
reaches it, and every due action is applied in time order from one agenda. A room's events are
therefore the same however finely it is advanced, and depend only on the seed (and on when
interventions were delivered: `deliver`, whose true effect `services.simulation.response` defines).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from typing import Any

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
)
from services.core.vocabulary import InterventionType
from services.simulation.attention import AttentionModel
from services.simulation.audience import (
    CHAT_LINES,
    CHAT_WEIGHTS,
    EMOJI,
    EMOJI_WEIGHTS,
    MASS_EXIT_SECONDS,
    POLL_BANK,
    RANDOM_EPISODE_SECONDS,
    REACTION_WEIGHTS,
    RECOVERY_SECONDS,
    VOTE_DECAY_SECONDS,
    Audience,
    Episode,
    EpisodeKind,
    Poll,
    SimSession,
    iso_time,
    poisson,
)
from services.simulation.response import (
    Effect,
    rate_boost,
    rejoin_hazard,
    restored_share,
)
from services.simulation.truth_table import SEED_TABLE, ResponseTable

# Agenda actions, in the order they are resolved when two fall on the same instant.
_JOIN, _LEAVE, _REJOIN, _MASS_LEAVE, _EPISODE_START, _EPISODE_END = range(6)
_POLL_OPEN, _POLL_CLOSE, _CHAT, _CHAT_SEND, _REACTION, _VOTE, _RETURN, _ATTEND = range(6, 14)

TYPING_SHARE = 0.5  # chat messages announced by a typing event a few seconds before
REACTION_ECHO_SHARE = 0.25  # reactions the platform also echoes on live.sync
REJOIN_MEAN_SECONDS = 150.0
# Share of the room that walks out; the floor sits above 30 % so the promise survives rounding.
MASS_EXIT_SHARE = (0.32, 0.6)
MOOD_RELAX_SECONDS = 60.0
MOOD_NOISE = 0.027  # with the relaxation above: a slow ±15 % drift of the whole room
APPLAUSE_EVERY_SECONDS = 150.0
# Random episodes wait for a baseline the detectors can compare against.
EPISODE_WARMUP_SECONDS = 120.0
EPISODE_SPACING_SECONDS = 60.0


Emitted = tuple[float, str, dict[str, Any]]


class SessionRoom:
    """One session's simulated audience and its agenda of due actions."""

    def __init__(
        self, spec: SimSession, seed: int, start: float, truth: ResponseTable = SEED_TABLE
    ) -> None:
        self.spec = spec
        self.truth = truth
        # Per-session streams of randomness: adding a session leaves the others unchanged.
        self.rng = random.Random(f"{seed}:{spec.session_id}")
        self.audience = Audience(spec, self.rng)
        self.episodes: list[Episode] = sorted(spec.episodes, key=lambda ep: ep.start)
        self._explicit = tuple(self.episodes)
        self._live: list[Episode] = list(self.episodes)
        self._agenda: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()
        self._generated_until = start
        self._mood = 0.0
        self._applause_until = start
        self._applause = 1.0
        self._poll: Poll | None = None
        self._polls_run = 0
        self._effects: list[Effect] = []  # acting now (or until the next second's draws)
        self.delivered: list[Effect] = []  # every intervention delivered, with its true effect
        # Deliveries draw their ids from a stream of their own.
        self._delivery_rng = random.Random(f"{seed}:{spec.session_id}:deliveries")
        self.attention = (
            AttentionModel(random.Random(f"{seed}:{spec.session_id}:attention"))
            if spec.attention
            else None
        )
        rng = self.rng
        for user in self.audience.users:
            self._push(start + spec.join_seconds * rng.random(), _JOIN, user)
        for episode in self.episodes:
            self._push_episode(episode, scheduled_random=False)
        if spec.poll_every is not None:
            self._push(start + spec.poll_every * rng.uniform(0.3, 0.6), _POLL_OPEN, None)
        if spec.episode_every is not None:
            self._schedule_random_episode(start + EPISODE_WARMUP_SECONDS)

    def _push(self, t: float, action: int, arg: Any) -> None:
        heapq.heappush(self._agenda, (t, action, next(self._seq), arg))

    def _push_episode(self, episode: Episode, *, scheduled_random: bool) -> None:
        self._push(episode.start, _EPISODE_START, (episode, scheduled_random))
        self._push(episode.end, _EPISODE_END, episode)

    def _schedule_random_episode(self, after: float) -> None:
        spec, rng = self.spec, self.rng
        assert spec.episode_every is not None
        kind = rng.choice(spec.episode_kinds)
        low, high = RANDOM_EPISODE_SECONDS[kind]
        duration = rng.uniform(low, high)
        start = after + spec.episode_every * rng.uniform(0.5, 1.5)
        clearance = RECOVERY_SECONDS + EPISODE_SPACING_SECONDS
        for other in self._explicit:
            if start < other.end + clearance and start + duration + clearance > other.start:
                start = other.end + clearance
        episode = Episode(kind, start, start + duration)
        self.episodes.append(episode)
        self._live.append(episode)
        self._push_episode(episode, scheduled_random=True)

    def activity(self, t: float) -> float:
        """Chance (0..1) that a drawn chat, reaction or vote happens: episodes, then rescues."""
        level = 1.0
        for episode in self._live:
            level *= episode.activity(t)
        if self._effects and level < 1.0:
            level += (1.0 - level) * restored_share(self._effects, t)
        return level

    def episode_at(self, t: float) -> EpisodeKind | None:
        """The kind of the latest-starting episode under way at `t` (recovery excluded)."""
        ongoing = [ep for ep in self._live if ep.start <= t < ep.end]
        return max(ongoing, key=lambda ep: ep.start).kind if ongoing else None

    def deliver(
        self, intervention_type: InterventionType, content: dict[str, Any], t: float
    ) -> dict[str, Any]:
        """Execute an intervention at `t` (not before the last step); returns the platform's result.

        `content` is `sim_response.parse_order`'s: a poll's is {question, options, duration}.
        The true effect (from the room's truth table) is kept in `delivered`, never in the result.
        """
        arm = InterventionType(intervention_type)
        audience = self.audience
        kind, present = self.episode_at(t), audience.present_count
        effect = Effect(arm, t, kind, present, self.truth.share(arm, kind, present))
        self._effects.append(effect)
        self.delivered.append(effect)
        ref = str(uuid.UUID(int=self._delivery_rng.getrandbits(128), version=4))
        result: dict[str, Any] = {"delivered_at": iso_time(t), "present": present}
        if arm is InterventionType.POLL:
            result |= self._deliver_poll(content, effect, t)
        elif arm is InterventionType.CHAT_PROMPT:
            result["message_id"] = ref
        elif arm is InterventionType.NOTIFICATION:
            reached = present + len(audience.away) + len(audience.held)
            result |= {"notification_id": ref, "recipients": reached}
        else:
            result |= {"challenge_id": ref, "template": content.get("template")}
        return result

    def _deliver_poll(self, content: dict[str, Any], effect: Effect, t: float) -> dict[str, Any]:
        if self._poll is not None:  # the platform runs one poll at a time: the nudge alone acts
            return {"poll_opened": False, "running_poll_id": self._poll.id}
        rng = self._delivery_rng
        poll_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        # A poll that meets the room's need draws more voters than a scheduled one.
        participation = min(0.95, self.spec.poll_participation * (0.5 + effect.share))
        question, texts, duration = content["question"], content["options"], content["duration"]
        poll = self._start_poll(poll_id, question, texts, t, duration, participation, rng)
        self._vote_arrivals(t, self._generated_until)
        options = [{"id": oid, "text": text} for oid, text in poll.options]
        return {
            "poll_opened": True,
            "poll_id": poll_id,
            "options": options,
            "closes_at": iso_time(poll.closes),
        }

    def advance(self, now: float, out: list[Emitted]) -> None:
        """Resolve everything due before `now`, drawing each new second's arrivals first."""
        agenda = self._agenda
        while True:
            due = agenda[0][0] if agenda else math.inf
            if due < self._generated_until and due < now:
                t, action, _, arg = heapq.heappop(agenda)
                self._resolve(t, action, arg, out)
            elif self._generated_until < now:
                self._generate(self._generated_until)
                self._generated_until += 1.0
            else:
                return

    def _arrivals(self, action: int, per_second: float, lo: float, hi: float, arg: Any) -> None:
        rng = self.rng
        for _ in range(poisson(rng, per_second * (hi - lo))):
            self._push(lo + rng.random() * (hi - lo), action, arg)

    def _generate(self, g: float) -> None:
        spec, rng, audience = self.spec, self.rng, self.audience
        self._live = [ep for ep in self._live if not ep.settled(g)]
        self._mood += -self._mood / MOOD_RELAX_SECONDS + rng.gauss(0.0, MOOD_NOISE)
        if g >= self._applause_until and rng.random() < 1.0 / APPLAUSE_EVERY_SECONDS:
            self._applause_until = g + rng.uniform(5.0, 12.0)
            self._applause = rng.uniform(2.0, 4.0)
        present = audience.present_count
        if self._effects:
            self._effects = [effect for effect in self._effects if effect.end > g]
            held = len(audience.held) * rejoin_hazard(self._effects, g)
            self._arrivals(_RETURN, held, g, g + 1, None)
        if present:
            scale = (present / spec.audience) ** 0.75 * math.exp(self._mood)
            if self._effects:
                scale *= rate_boost(self._effects, g)
            applause = self._applause if g < self._applause_until else 1.0
            self._arrivals(_CHAT, spec.base_chat_per_min / 60.0 * scale, g, g + 1, None)
            reactions = spec.base_reactions_per_min / 60.0 * scale * applause
            self._arrivals(_REACTION, reactions, g, g + 1, None)
            self._arrivals(_LEAVE, present * spec.leave_per_hour / 3600.0, g, g + 1, None)
            self._vote_arrivals(g, g + 1)
        self._arrivals(_REJOIN, len(audience.away) / REJOIN_MEAN_SECONDS, g, g + 1, None)
        if self.attention is not None and present:
            for t, user, what in self.attention.second(g, present, audience.random_present):
                self._push(t, _ATTEND, (user, what))

    def _vote_arrivals(self, lo: float, hi: float) -> None:
        poll = self._poll
        if poll is None:
            return
        lo, hi = max(lo, poll.opened), min(hi, poll.closes)
        if hi <= lo:
            return
        undecided = max(0, self.audience.present_count - len(poll.voters))
        since_open = (lo + hi) / 2 - poll.opened
        per_second = undecided * poll.hazard * math.exp(-since_open / VOTE_DECAY_SECONDS)
        self._arrivals(_VOTE, per_second, lo, hi, poll.id)

    def _resolve(self, t: float, action: int, arg: Any, out: list[Emitted]) -> None:
        audience, rng = self.audience, self.rng
        if action in (_CHAT, _REACTION, _VOTE) and rng.random() >= self.activity(t):
            return
        if action == _JOIN:
            if audience.arrive(arg):
                self._joined(arg, t, out)
        elif action == _LEAVE:
            user = audience.random_present(rng)
            if user is not None and audience.depart(user):
                self._left(user, t, out)
        elif action in (_REJOIN, _RETURN):
            # Ordinary leavers drift back; an intervention can win back those who walked out.
            pool = audience.away if action == _REJOIN else audience.held
            if pool:
                user = pool.choice(rng)
                audience.arrive(user)
                self._joined(user, t, out)
        elif action == _MASS_LEAVE:
            if audience.depart(arg, hold=True):
                self._left(arg, t, out)
        elif action == _ATTEND:
            assert self.attention is not None
            state = self.attention.resolve(*arg, self.activity(t))
            if state is not None:
                out.append(self._presence(arg[0], state, t))
        elif action == _CHAT:
            self._chat(t, out)
        elif action == _CHAT_SEND:
            if audience.is_present(arg):
                out.append((t, CHAT_STREAM, self._message(arg, t)))
        elif action == _REACTION:
            self._react(t, out)
        elif action == _VOTE:
            self._vote(t, arg, out)
        elif action == _POLL_OPEN:
            self._open_poll(t)
        elif action == _POLL_CLOSE:
            self._close_poll(t, arg, out)
        elif action == _EPISODE_START:
            self._start_episode(t, *arg)
        elif action == _EPISODE_END and arg.kind is EpisodeKind.MASS_EXIT:
            # Those who walked out may now drift back at the usual rejoin rate.
            audience.release_held()

    def _joined(self, user: str, t: float, out: list[Emitted]) -> None:
        out.append((t, LIVE_SYNC_STREAM, self._sync("user_join", user, t)))
        if self.attention is not None:
            out.append(self._presence(user, self.attention.joined(user, self.activity(t)), t))

    def _left(self, user: str, t: float, out: list[Emitted]) -> None:
        out.append((t, LIVE_SYNC_STREAM, self._sync("user_leave", user, t)))
        if self.attention is not None:
            self.attention.left(user)

    def _presence(self, user: str, state: str, t: float) -> Emitted:
        return t, LIVE_SYNC_STREAM, self._sync("presence_update", user, t, state=state)

    def _sync(self, kind: str, user: str, t: float, **extra: Any) -> dict[str, Any]:
        spec = self.spec
        payload = {"type": kind, "sessionId": spec.session_id, "eventId": spec.event_id}
        if kind == "user_join":
            # As a platform does (design §2): titles now and then, here with every arrival.
            payload["sessionTitle"] = spec.title
            if spec.event_title:
                payload["eventTitle"] = spec.event_title
        return {**payload, "userId": user, **extra, "timestamp": iso_time(t)}

    def _message(self, author: str, t: float) -> dict[str, Any]:
        rng = self.rng
        return {
            "sessionId": self.spec.session_id,
            "eventId": self.spec.event_id,
            "message": {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "authorId": author,
                "text": rng.choice(CHAT_LINES),
                "createdAt": iso_time(t),
            },
        }

    def _chat(self, t: float, out: list[Emitted]) -> None:
        rng = self.rng
        author = self.audience.pick(CHAT_WEIGHTS, rng)
        if author is None:
            return
        if rng.random() < TYPING_SHARE:
            out.append((t, LIVE_SYNC_STREAM, self._sync("typing", author, t, isTyping=True)))
            self._push(t + rng.uniform(1.5, 5.0), _CHAT_SEND, author)
        else:
            out.append((t, CHAT_STREAM, self._message(author, t)))

    def _react(self, t: float, out: list[Emitted]) -> None:
        rng = self.rng
        user = self.audience.pick(REACTION_WEIGHTS, rng)
        if user is None:
            return
        emoji = rng.choices(EMOJI, EMOJI_WEIGHTS)[0]
        # The reaction stream's payload carries no eventId on the real platform either.
        payload = {
            "userId": user,
            "sessionId": self.spec.session_id,
            "emoji": emoji,
            "timestamp": iso_time(t),
        }
        out.append((t, REACTION_STREAM, payload))
        if rng.random() < REACTION_ECHO_SHARE:
            out.append((t, LIVE_SYNC_STREAM, self._sync("reaction", user, t, emoji=emoji)))

    def _open_poll(self, t: float) -> None:
        spec, rng = self.spec, self.rng
        assert spec.poll_every is not None
        if self._poll is not None:  # an intervention's poll is running: wait for it
            self._push(self._poll.closes + 10.0, _POLL_OPEN, None)
            return
        question, texts = POLL_BANK[self._polls_run % len(POLL_BANK)]
        self._polls_run += 1
        poll_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        duration = spec.poll_duration * rng.uniform(0.9, 1.15)
        self._start_poll(poll_id, question, texts, t, duration, spec.poll_participation, rng)
        next_open = max(t + spec.poll_every * rng.uniform(0.8, 1.2), t + duration + 10.0)
        self._push(next_open, _POLL_OPEN, None)
        # This second's draws were made before the poll existed.
        self._vote_arrivals(t, self._generated_until)

    def _start_poll(
        self,
        poll_id: str,
        question: str,
        texts: list[str] | tuple[str, ...],
        t: float,
        duration: float,
        participation: float,
        rng: random.Random,
    ) -> Poll:
        self._poll = Poll.start(poll_id, question, texts, t, duration, participation, rng)
        self._push(t + duration, _POLL_CLOSE, poll_id)
        return self._poll

    def _vote(self, t: float, poll_id: str, out: list[Emitted]) -> None:
        poll = self._poll
        if poll is None or poll.id != poll_id or t >= poll.closes:
            return
        rng = self.rng
        user = self.audience.pick_excluding(poll.voters, rng)
        if user is None:
            return
        choice = rng.choices(range(len(poll.options)), poll.weights)[0]
        poll.voters.add(user)
        poll.counts[choice] += 1
        sid = self.spec.session_id
        payload = {
            "userId": user,
            "pollId": poll.id,
            "optionId": poll.options[choice][0],
            "sessionId": sid,
            "eventId": sid,  # the platform puts the session id here
            "voteTimestamp": iso_time(t),
        }
        out.append((t, POLL_VOTE_STREAM, payload))

    def _close_poll(self, t: float, poll_id: str, out: list[Emitted]) -> None:
        poll = self._poll
        if poll is None or poll.id != poll_id:
            return
        self._poll = None
        out.append((t, POLL_CLOSED_STREAM, poll.closed_payload(self.spec.session_id)))

    def _start_episode(self, t: float, episode: Episode, scheduled_random: bool) -> None:
        rng, audience = self.rng, self.audience
        if episode.kind is EpisodeKind.MASS_EXIT:
            present = audience.present_count
            leaving = math.ceil(present * rng.uniform(*MASS_EXIT_SHARE))
            window = min(MASS_EXIT_SECONDS, episode.end - t) * 0.95
            chosen: set[str] = set()
            while len(chosen) < leaving:
                user = audience.random_present(rng)
                assert user is not None
                chosen.add(user)
            for user in sorted(chosen):
                self._push(t + rng.random() * window, _MASS_LEAVE, user)
        if scheduled_random:
            self._schedule_random_episode(episode.end + RECOVERY_SECONDS)
