"""Closed-loop learning benchmark: the intervention agent against an oracle, random, "always poll".

    python bench/agent_regret.py [--seeds 5] [--episodes 500] [--sessions 24] [--jobs 2]

Everything runs offline with the product's own parts: the simulator's audiences (whose true,
context-dependent response to each intervention type lives in `services.simulation.response`,
never read by the agent), the collector's `SessionBook` (windows, scores, anomaly detector), the
agent's `ThompsonSampler` with `MemoryPosteriors`, the content library, the guards and the reward
rule.

When a detected anomaly opens, the policy picks a type, the content library writes it, the
simulated platform executes it, and RewardRule's delay later the outcome is judged from the
session's own scores exactly as `InterventionFollowUp.measure` does, and learnt (agent only).

Regret of one decision = the true rescue share of the best type in the room's true state (the
episode under way and its size) minus that of the chosen type. Cumulative regret is summed over
decisions, per policy, seed by seed (every policy sees the same seeds). "Best arm in a context":
at the end, per agent context (the sampler's fine key), is the type with the highest posterior
mean the one with the highest true average rescue share over the decisions made there?
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.agent.content import ContentRequest, TemplateLibrary  # noqa: E402
from services.agent.posteriors import MemoryPosteriors  # noqa: E402
from services.agent.reward import RewardRule, judge  # noqa: E402
from services.agent.thompson import ThompsonSampler  # noqa: E402
from services.core.platform import PLATFORM_MESSAGE_TYPE  # noqa: E402
from services.core.settings import ScoreWeights  # noqa: E402
from services.core.vocabulary import INTERVENTION_TYPES, AgentContext, InterventionType  # noqa: E402
from services.ingest.contracts import PayloadRejected, parse_signal  # noqa: E402
from services.ingest.windows import WindowConfig  # noqa: E402
from services.live.session_book import Lifetimes, SessionBook  # noqa: E402
from services.simulation.response import best_arm, rescue_share  # noqa: E402
from services.simulation.simulator import SimSession, Simulator  # noqa: E402

TICK = 5.0
T0 = 1_700_000_000.0
# Rooms across the three size buckets the agent's contexts use (<10, 10-49, >=50).
AUDIENCES = (6, 8, 15, 25, 40, 80, 200, 600)
# No second intervention in a session while the first one's effect and measurement run.
QUIET_AFTER_SECONDS = 90.0
POLICIES = ("agent", "random", "always-poll", "oracle")


@dataclass(slots=True)
class Decision:
    at: float
    session_id: str
    context: str
    chosen: InterventionType
    regret: float
    true_best: InterventionType
    shares: dict[InterventionType, float]
    outcome_delta: float | None = None


@dataclass(slots=True)
class RunResult:
    policy: str
    seed: int
    decisions: list[Decision] = field(default_factory=list)
    simulated_hours: float = 0.0
    wall_seconds: float = 0.0
    best_in_context: tuple[int, int] = (0, 0)  # (contexts right, contexts judged)
    best_in_context_weighted: float = 0.0


def sessions_for(seed: int, count: int) -> list[SimSession]:
    rng = random.Random(f"agent-bench:{seed}")
    return [
        SimSession(
            session_id=f"s{seed}-{n:02d}",
            event_id="bench",
            title=f"Bench session {n}",
            audience=AUDIENCES[n % len(AUDIENCES)],
            poll_every=rng.uniform(200.0, 320.0),
            episode_every=rng.uniform(100.0, 160.0),
        )
        for n in range(count)
    ]


def _truth(sim: Simulator, session_id: str, at: float) -> tuple[object | None, int]:
    """The episode under way in the room at `at` (the simulator's truth) and its headcount."""
    kind = None
    for sid, episode in sim.ground_truth():
        if sid == session_id and episode.start <= at < episode.end:
            kind = episode.kind
    return kind, sim.present_count(session_id)


class Policy:
    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = random.Random(f"policy:{name}:{seed}")
        self.sampler = ThompsonSampler()
        self.book = MemoryPosteriors()

    def choose(self, context: AgentContext, truth_best: InterventionType) -> InterventionType:
        if self.name == "agent":
            records = self.book.records(context)
            return self.sampler.choose(context, records, INTERVENTION_TYPES, self.rng).type
        if self.name == "random":
            return self.rng.choice(INTERVENTION_TYPES)
        if self.name == "oracle":
            return truth_best
        return InterventionType.POLL

    def learn(self, context: AgentContext, arm: InterventionType, success: bool, delta: float):
        self.book.learn(context, arm, success, delta)


def run(job: tuple[str, int, int, int]) -> RunResult:
    policy_name, seed, episodes, session_count = job
    started = time.perf_counter()
    sim = Simulator(sessions_for(seed, session_count), seed=seed, start=T0)
    book = SessionBook(WindowConfig(tick_seconds=TICK), ScoreWeights(), Lifetimes(idle_seconds=1e9))
    policy = Policy(policy_name, seed)
    library = TemplateLibrary()
    rule = RewardRule()
    content_rng = random.Random(f"content:{seed}")
    scores: dict[str, dict[float, float]] = defaultdict(dict)
    waiting: list[tuple[float, Decision, AgentContext]] = []
    last_action: dict[str, float] = {}
    result = RunResult(policy_name, seed)
    t = T0
    while len(result.decisions) < episodes or waiting:
        t += 1.0
        for stream, payload in sim.step(t):
            try:
                book.apply(parse_signal(stream, payload), t)
            except PayloadRejected:
                continue
        if (t - T0) % TICK:
            continue
        out = book.score_tick(t)
        for row in out.metric_rows:
            scores[row["session_id"]][t] = row["engagement_score"]
        for due, decision, context in [w for w in waiting if w[0] <= t]:
            waiting.remove((due, decision, context))
            _measure(decision, context, scores[decision.session_id], rule, policy)
        if len(result.decisions) >= episodes:
            continue
        for opened in out.episodes.opened:
            sid = opened["session_id"]
            if t - last_action.get(sid, -1e9) < QUIET_AFTER_SECONDS:
                continue
            signals = opened["signals"]
            context = AgentContext.of(
                opened["type"],
                opened["current_engagement"],
                int(signals.get("total_users", 0)),
                opened["deviation"],
            )
            kind, present = _truth(sim, sid, t)
            shares = {arm: rescue_share(arm, kind, present) for arm in INTERVENTION_TYPES}
            truth_best = best_arm(kind, present)
            arm = policy.choose(context, truth_best)
            content = library.generate(
                ContentRequest(
                    arm,
                    opened["type"],
                    sid,
                    "bench",
                    None,
                    int(signals.get("total_users", 0)),
                    float(signals.get("chat_msgs_per_min", 0.0)),
                    opened["current_engagement"],
                ),
                content_rng,
            )
            message = {
                "type": PLATFORM_MESSAGE_TYPE[arm],
                "intervention_id": f"{sid}-{int(t)}",
                "session_id": sid,
                "event_id": "bench",
                "timestamp": "",
                **content.payload,
            }
            outcome = sim.deliver(message, t)
            if not outcome["success"]:
                raise RuntimeError(f"the simulated platform refused: {outcome['error']}")
            decision = Decision(
                t, sid, context.key, arm, shares[truth_best] - shares[arm], truth_best, shares
            )
            result.decisions.append(decision)
            last_action[sid] = t
            waiting.append((t + rule.delay_seconds, decision, context))
    result.simulated_hours = (t - T0) / 3600.0
    result.wall_seconds = time.perf_counter() - started
    if policy_name == "agent":
        _judge_contexts(result, policy)
    return result


def _measure(
    decision: Decision,
    context: AgentContext,
    series: dict[float, float],
    rule: RewardRule,
    policy: Policy,
) -> None:
    """The same windows as InterventionFollowUp.measure, on this session's tick scores."""
    done, end = decision.at, decision.at + rule.delay_seconds
    before = [s for at, s in series.items() if done - rule.before_seconds <= at < done]
    after = [s for at, s in series.items() if end - rule.after_seconds <= at <= end]
    outcome = judge(before, after, rule)
    if outcome is None:
        return
    decision.outcome_delta = outcome.delta
    if policy.name == "agent":
        policy.learn(context, decision.chosen, outcome.success, outcome.delta)


def _judge_contexts(result: RunResult, policy: Policy) -> None:
    truth: dict[str, dict[InterventionType, list[float]]] = defaultdict(lambda: defaultdict(list))
    visits: dict[str, int] = defaultdict(int)
    for decision in result.decisions:
        visits[decision.context] += 1
        for arm, share in decision.shares.items():
            truth[decision.context][arm].append(share)
    right = judged = 0
    weighted = 0.0
    for key, per_arm in truth.items():
        means = {arm: statistics.fmean(values) for arm, values in per_arm.items()}
        top = max(means.values())
        best = {arm for arm, value in means.items() if value >= top - 1e-9}
        context = AgentContext.from_key(key)
        view = {
            arm: policy.sampler.view(context, policy.book.records(context), arm).mean
            for arm in INTERVENTION_TYPES
        }
        picked = max(view, key=view.__getitem__)
        judged += 1
        if picked in best:
            right += 1
            weighted += visits[key]
    result.best_in_context = (right, judged)
    result.best_in_context_weighted = weighted / max(1, len(result.decisions))


def _cumulative(result: RunResult, upto: int) -> float:
    return sum(d.regret for d in result.decisions[:upto])


def context_best(results: list[RunResult]) -> dict[str, InterventionType]:
    """Per agent context, the arm with the highest true mean share over every decision made in
    it (all policies and seeds): what an agent that knew everything about its contexts picks."""
    totals: dict[str, dict[InterventionType, list[float]]] = defaultdict(lambda: defaultdict(list))
    for res in results:
        for d in res.decisions:
            for arm, share in d.shares.items():
                totals[d.context][arm].append(share)
    return {
        key: max(per_arm, key=lambda arm: statistics.fmean(per_arm[arm]))
        for key, per_arm in totals.items()
    }


def report(results: list[RunResult], episodes: int) -> None:
    by_policy: dict[str, list[RunResult]] = defaultdict(list)
    for res in results:
        by_policy[res.policy].append(res)
    checkpoints = [c for c in (50, 100, 200, 300, 400, 500, 750, 1000) if c <= episodes]
    print(
        f"\nCumulative regret (mean over {len(by_policy['agent'])} seeds), "
        "in true rescue share summed over decisions:\n"
    )
    print("| policy | " + " | ".join(f"@{c}" for c in checkpoints) + " | mean regret/decision |")
    print("|---|" + "---|" * (len(checkpoints) + 1))
    for name in POLICIES:
        runs = by_policy.get(name, [])
        if not runs:
            continue
        cells = [statistics.fmean(_cumulative(r, c) for r in runs) for c in checkpoints]
        per = statistics.fmean(_cumulative(r, episodes) / episodes for r in runs)
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + f" | {per:.3f} |")
    agent, random_runs = by_policy.get("agent", []), by_policy.get("random", [])
    if agent and random_runs:
        a = statistics.fmean(_cumulative(r, episodes) for r in agent)
        b = statistics.fmean(_cumulative(r, episodes) for r in random_runs)
        print(f"\nAgent regret at {episodes} = {a / b:.1%} of random's (target <= 25 %).")
        late = statistics.fmean(
            sum(d.regret for d in r.decisions[episodes - 100 : episodes]) / 100 for r in agent
        )
        late_random = statistics.fmean(
            sum(d.regret for d in r.decisions[episodes - 100 : episodes]) / 100 for r in random_runs
        )
        print(
            f"Regret per decision over decisions {episodes - 99}-{episodes}: agent "
            f"{late:.3f}, random {late_random:.3f}."
        )
        best = context_best(results)

        def against_context(run: RunResult) -> float:
            picks = run.decisions[:episodes]
            return sum(d.shares[best[d.context]] - d.shares[d.chosen] for d in picks)

        def floor(run: RunResult) -> float:
            picks = run.decisions[:episodes]
            return sum(d.shares[d.true_best] - d.shares[best[d.context]] for d in picks)

        ctx_agent = statistics.fmean(against_context(r) for r in agent)
        ctx_random = statistics.fmean(against_context(r) for r in random_runs)
        print(
            f"Against the best arm of the agent's own context: agent {ctx_agent:.1f}, random "
            f"{ctx_random:.1f} = {ctx_agent / ctx_random:.1%} of random's."
        )
        lowest = statistics.fmean(floor(r) for r in agent)
        print(
            "Floor (always the best arm of the agent's context, judged against the true "
            f"state): {lowest:.1f} = {lowest / b:.1%} of random's."
        )
        right = sum(r.best_in_context[0] for r in agent)
        judged = sum(r.best_in_context[1] for r in agent)
        weighted = statistics.fmean(r.best_in_context_weighted for r in agent)
        print(
            f"Best arm (posterior mean) in {right}/{judged} contexts = {right / judged:.0%} "
            f"(target >= 80 %); weighted by decisions: {weighted:.0%}."
        )
    print("\nMeasured engagement change by chosen type (all policies, all seeds):\n")
    deltas: dict[str, list[float]] = defaultdict(list)
    for res in results:
        for d in res.decisions:
            if d.outcome_delta is not None:
                deltas[d.chosen.value].append(d.outcome_delta)
    print("| type | decisions | mean delta | success (delta >= 0.03) |")
    print("|---|---|---|---|")
    for arm, values in sorted(deltas.items()):
        wins = sum(v >= RewardRule().success_delta for v in values) / len(values)
        print(f"| {arm} | {len(values)} | {statistics.fmean(values):+.4f} | {wins:.0%} |")
    hours = statistics.fmean(r.simulated_hours for r in results)
    wall = sum(r.wall_seconds for r in results)
    print(f"\nSimulated {hours:.1f} h per run; {wall:.0f} s of CPU over {len(results)} runs.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    jobs = [(p, seed, args.episodes, args.sessions) for seed in range(args.seeds) for p in policies]
    mapper: Callable = map
    if args.jobs > 1:
        pool = ProcessPoolExecutor(args.jobs)
        mapper = pool.map
    results = list(mapper(run, jobs))
    report(results, args.episodes)


if __name__ == "__main__":
    main()
