"""Closed-loop learning benchmark: the intervention agent against simpler learners and an oracle.

    python bench/agent_regret.py [--seeds 10] [--decisions 5000] [--truth drawn|seed] [--jobs 2]

Everything runs offline with the product's own parts: the simulator's audiences, the collector's
`SessionBook` (windows, scores, anomaly detector), the agent's `ThompsonSampler` with
`MemoryPosteriors`, the content library, the guards and the reward rule.

The audiences' true response to each type is a `truth_table.ResponseTable` that only the
simulator and this bench's scoring read. With `--truth drawn` (the default) every seed draws its
own table from the documented prior, so which type rescues which context differs from seed to
seed and no setting can be tuned to one table; `--truth seed` runs the simulator's fixed table.

When a detected anomaly opens, the policy picks a type, the content library writes it, the
simulated platform executes it, and RewardRule's delay later the outcome is judged from the
session's own scores exactly as `InterventionFollowUp.measure` does, and learnt.

Regret of one decision = the true rescue share of the best type in the room's true state (the
episode under way and its size) minus that of the chosen type. The floor is what a policy that
always picks the best type of the agent's own context would lose: the part of the regret that
the detector's naming leaves and no learner can remove. "Best type known": per context a policy
visited, is the type it believes best the one with the highest true average rescue share over the
decisions made there?
"""

from __future__ import annotations

import argparse
import os
import pickle
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
from services.agent.reward import RewardOutcome, RewardRule, judge  # noqa: E402
from services.agent.thompson import ThompsonSampler  # noqa: E402
from services.core.platform import PLATFORM_MESSAGE_TYPE  # noqa: E402
from services.core.settings import ScoreWeights  # noqa: E402
from services.core.vocabulary import INTERVENTION_TYPES, AgentContext, InterventionType  # noqa: E402
from services.ingest.contracts import PayloadRejected, parse_signal  # noqa: E402
from services.ingest.windows import WindowConfig  # noqa: E402
from services.live.session_book import Lifetimes, SessionBook  # noqa: E402
from services.simulation.simulator import SimSession, Simulator  # noqa: E402
from services.simulation.truth_table import SEED_TABLE, ResponseTable, draw_table  # noqa: E402

TICK = 5.0
T0 = 1_700_000_000.0
# Rooms across the three size buckets the agent's contexts use (<10, 10-49, >=50).
AUDIENCES = (6, 8, 15, 25, 40, 80, 200, 600)
# No second intervention in a session while the first one's effect and measurement run.
QUIET_AFTER_SECONDS = 90.0
POLICIES = ("agent", "thompson", "epsilon-greedy", "random", "always-poll", "oracle")
# The oracle's regret is 0 by definition: it is run only when asked for.
DEFAULT_POLICIES = POLICIES[:-1]
EPSILON = 0.1
LATE = 1000  # the targets judge the last this many decisions
MIN_MEASURED = 30  # outcomes per type before the reward's own verdict in a context is counted


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
    # The session's scores by seconds from the decision, kept when the job asks (what
    # bench/outcome_statistics.py studies).
    scores: dict[int, float] | None = None


@dataclass(slots=True)
class RunResult:
    policy: str
    seed: int
    truth: str
    decisions: list[Decision] = field(default_factory=list)
    simulated_hours: float = 0.0
    wall_seconds: float = 0.0
    believed_best: dict[str, InterventionType] = field(default_factory=dict)


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


def truth_for(kind: str, seed: int) -> ResponseTable:
    return draw_table(seed) if kind == "drawn" else SEED_TABLE


class Policy:
    """One way of choosing a type. Every policy sees the same seeds and the same rooms."""

    def __init__(self, name: str, seed: int, borrow: float) -> None:
        self.name = name
        self.rng = random.Random(f"policy:{name}:{seed}")
        self.sampler = ThompsonSampler(borrow)
        self.book = MemoryPosteriors()
        # (context key or "" for the non-contextual sampler, type) -> [successes, attempts]
        self.counts: dict[tuple[str, InterventionType], list[int]] = defaultdict(lambda: [0, 0])

    def _key(self, context: AgentContext) -> str:
        return "" if self.name == "thompson" else context.key

    def choose(self, context: AgentContext, truth_best: InterventionType) -> InterventionType:
        rng = self.rng
        if self.name == "agent":
            records = self.book.records(context)
            return self.sampler.choose(context, records, INTERVENTION_TYPES, rng).type
        if self.name == "thompson":
            draws = {
                arm: rng.betavariate(1 + won, 1 + tried - won)
                for arm in INTERVENTION_TYPES
                for won, tried in [self.counts[("", arm)]]
            }
            return max(draws, key=draws.__getitem__)
        if self.name == "epsilon-greedy":
            untried = [a for a in INTERVENTION_TYPES if not self.counts[(context.key, a)][1]]
            if untried:
                return rng.choice(untried)
            if rng.random() < EPSILON:
                return rng.choice(INTERVENTION_TYPES)
            return self.believed(context)
        if self.name == "random":
            return rng.choice(INTERVENTION_TYPES)
        if self.name == "oracle":
            return truth_best
        return InterventionType.POLL

    def learn(self, context: AgentContext, arm: InterventionType, outcome: RewardOutcome) -> None:
        if self.name == "agent":
            self.book.learn(context, arm, outcome)
        counts = self.counts[(self._key(context), arm)]
        counts[0] += outcome.success
        counts[1] += 1

    def believed(self, context: AgentContext) -> InterventionType:
        """The type this policy thinks works best in `context` (its posterior or sample mean)."""
        if self.name == "agent":
            records = self.book.records(context)
            view = {a: self.sampler.view(context, records, a).lift for a in INTERVENTION_TYPES}
            return max(view, key=view.__getitem__)
        if self.name in ("thompson", "epsilon-greedy"):
            key = self._key(context)
            rate = {
                a: (won + 1) / (tried + 2)
                for a in INTERVENTION_TYPES
                for won, tried in [self.counts[(key, a)]]
            }
            return max(rate, key=rate.__getitem__)
        return InterventionType.POLL


@dataclass(frozen=True, slots=True)
class RunJob:
    policy: str
    seed: int
    decisions: int
    sessions: int = 24
    truth: str = "drawn"
    borrow: float = 4.0
    rule: RewardRule = field(default_factory=RewardRule)
    keep_scores: bool = False


def run(job: RunJob) -> RunResult:
    policy_name, seed, decisions, session_count = job.policy, job.seed, job.decisions, job.sessions
    truth_kind, borrow, rule = job.truth, job.borrow, job.rule
    started = time.perf_counter()
    truth = truth_for(truth_kind, seed)
    sim = Simulator(sessions_for(seed, session_count), seed=seed, start=T0, truth=truth)
    book = SessionBook(WindowConfig(tick_seconds=TICK), ScoreWeights(), Lifetimes(idle_seconds=1e9))
    policy = Policy(policy_name, seed, borrow)
    library = TemplateLibrary()
    content_rng = random.Random(f"content:{seed}")
    scores: dict[str, dict[float, float]] = defaultdict(dict)
    waiting: list[tuple[float, Decision, AgentContext]] = []
    last_action: dict[str, float] = {}
    result = RunResult(policy_name, seed, truth.name)
    t = T0
    while len(result.decisions) < decisions or waiting:
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
        if waiting and waiting[0][0] <= t:
            due = [w for w in waiting if w[0] <= t]
            waiting = [w for w in waiting if w[0] > t]
            for _, decision, context in due:
                _measure(decision, context, scores[decision.session_id], job, policy)
        if len(result.decisions) >= decisions:
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
            kind, present = sim.episode_at(sid, t), sim.present_count(sid)
            shares = {arm: truth.share(arm, kind, present) for arm in INTERVENTION_TYPES}
            truth_best = truth.best(kind, present)
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
        _forget_before(scores, t - rule.delay_seconds - rule.before_seconds - TICK)
    result.simulated_hours = (t - T0) / 3600.0
    result.wall_seconds = time.perf_counter() - started
    result.believed_best = {
        key: policy.believed(AgentContext.from_key(key))
        for key in {d.context for d in result.decisions}
    }
    return result


def _forget_before(scores: dict[str, dict[float, float]], cutoff: float) -> None:
    """Drop tick scores no pending measurement can need (runs of 5,000 decisions are long)."""
    if cutoff % 300:
        return
    for sid, series in scores.items():
        scores[sid] = {at: value for at, value in series.items() if at >= cutoff}


def _measure(
    decision: Decision,
    context: AgentContext,
    series: dict[float, float],
    job: RunJob,
    policy: Policy,
) -> None:
    """The same windows as InterventionFollowUp.measure, on this session's tick scores."""
    rule = job.rule
    done, end = decision.at, decision.at + rule.delay_seconds
    if job.keep_scores:
        decision.scores = {
            round(at - done): s for at, s in series.items() if done - rule.before_seconds <= at
        }
    before = [s for at, s in series.items() if done - rule.before_seconds <= at < done]
    # (end - after, end], as the product's: the window's first instant belongs to the one before.
    after = [s for at, s in series.items() if end - rule.after_seconds < at <= end]
    outcome = judge(before, after, rule)
    if outcome is None:
        return
    decision.outcome_delta = outcome.delta
    policy.learn(context, decision.chosen, outcome)


def true_context_best(runs: list[RunResult]) -> dict[str, InterventionType]:
    """Per agent context, the type with the highest true mean share over every decision made in
    it by these runs (one seed, so one truth table): what a policy that knew everything about
    its contexts would pick."""
    totals: dict[str, dict[InterventionType, list[float]]] = defaultdict(lambda: defaultdict(list))
    for res in runs:
        for d in res.decisions:
            for arm, share in d.shares.items():
                totals[d.context][arm].append(share)
    return {
        key: max(per_arm, key=lambda arm: statistics.fmean(per_arm[arm]))
        for key, per_arm in totals.items()
    }


def late_regret(run: RunResult, upto: int) -> float:
    picks = run.decisions[max(0, upto - LATE) : upto]
    return statistics.fmean(d.regret for d in picks)


def late_floor(run: RunResult, upto: int, best: dict[str, InterventionType]) -> float:
    picks = run.decisions[max(0, upto - LATE) : upto]
    return statistics.fmean(d.shares[d.true_best] - d.shares[best[d.context]] for d in picks)


def seed_ratio(regret: float, floor: float) -> str:
    """One seed's late regret against its floor; a floor of 0 (the agent's contexts each hold
    one true state) has no ratio, so the regret itself is shown."""
    return f"{regret / floor:.2f}" if floor > 0 else f"{regret:.4f} at a floor of 0"


def best_known(run: RunResult, best: dict[str, InterventionType]) -> tuple[float, float]:
    """Share of the contexts the run visited whose believed best is the true best, plain and
    weighted by the run's decisions there."""
    visits: dict[str, int] = defaultdict(int)
    for d in run.decisions:
        visits[d.context] += 1
    right = [key for key in visits if run.believed_best.get(key) is best[key]]
    return len(right) / len(visits), sum(visits[k] for k in right) / len(run.decisions)


def measured_best_agrees(
    by_seed: dict[int, list[RunResult]], best: dict[int, dict[str, InterventionType]]
) -> tuple[int, int, int]:
    """Per seed and context, does what the learners measure point at the true best type when
    plenty of it is in? Counted for the highest success rate and for the highest mean change."""
    by_rate = by_change = judged = 0
    success = RewardRule().success_delta
    for seed, runs in by_seed.items():
        outcomes: dict[str, dict[InterventionType, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for res in runs:
            for d in res.decisions:
                if d.outcome_delta is not None:
                    outcomes[d.context][d.chosen].append(d.outcome_delta)
        for key, per_arm in outcomes.items():
            counts = [len(per_arm.get(arm, ())) for arm in INTERVENTION_TYPES]
            if min(counts) < MIN_MEASURED:
                continue
            judged += 1
            rates = {arm: statistics.fmean(v >= success for v in vs) for arm, vs in per_arm.items()}
            means = {arm: statistics.fmean(vs) for arm, vs in per_arm.items()}
            by_rate += max(rates, key=rates.__getitem__) is best[seed][key]
            by_change += max(means, key=means.__getitem__) is best[seed][key]
    return by_rate, by_change, judged


def report(results: list[RunResult], decisions: int) -> None:
    by_policy: dict[str, list[RunResult]] = defaultdict(list)
    by_seed: dict[int, list[RunResult]] = defaultdict(list)
    for res in results:
        by_policy[res.policy].append(res)
        by_seed[res.seed].append(res)
    best = {seed: true_context_best(runs) for seed, runs in by_seed.items()}
    steps = (50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10_000)
    checkpoints = [c for c in steps if c <= decisions]
    seeds = len(by_seed)
    truths = sorted({r.truth.split(":")[0] for r in results})
    print(f"\nTruth: {', '.join(truths)} table(s); {seeds} seeds; {decisions} decisions per run.")
    print("\nCumulative regret (mean over seeds), in true rescue share summed over decisions:\n")
    late_from = max(1, decisions - LATE + 1)
    print(
        "| policy | "
        + " | ".join(f"@{c}" for c in checkpoints)
        + f" | per decision, {late_from}-{decisions} | best type known |"
    )
    print("|---|" + "---|" * (len(checkpoints) + 2))
    floor = statistics.fmean(
        late_floor(r, decisions, best[r.seed]) for r in by_policy.get("agent", results)
    )
    for name in POLICIES:
        runs = by_policy.get(name, [])
        if not runs:
            continue
        cells = [
            statistics.fmean(sum(d.regret for d in r.decisions[:c]) for r in runs)
            for c in checkpoints
        ]
        late = statistics.fmean(late_regret(r, decisions) for r in runs)
        known = ""
        if name in ("agent", "thompson", "epsilon-greedy"):
            plain = statistics.fmean(best_known(r, best[r.seed])[0] for r in runs)
            weighted = statistics.fmean(best_known(r, best[r.seed])[1] for r in runs)
            known = f"{plain:.0%} ({weighted:.0%} by decisions)"
        print(
            f"| {name} | "
            + " | ".join(f"{c:.1f}" for c in cells)
            + f" | {late:.4f} ({late / floor:.2f}x floor) | {known} |"
        )
    print(
        "| floor (best type of the agent's context) | "
        + " | ".join("" for _ in checkpoints)
        + f" | {floor:.4f} | 100% |"
    )
    agent = by_policy.get("agent", [])
    if agent:
        per_seed = [
            seed_ratio(late_regret(r, decisions), late_floor(r, decisions, best[r.seed]))
            for r in agent
        ]
        print(
            f"\nAgent, decisions {late_from}-{decisions}: regret per decision "
            f"{statistics.fmean(late_regret(r, decisions) for r in agent):.4f} = "
            f"{statistics.fmean(late_regret(r, decisions) for r in agent) / floor:.2f}x the "
            "floor's (target <= 1.5x); per seed " + ", ".join(per_seed)
        )
        contexts = statistics.fmean(len(r.believed_best) for r in agent)
        print(f"Contexts the agent visited: {contexts:.1f} per seed (of 108 possible).")
        by_rate, by_change, judged = measured_best_agrees(by_seed, best)
        print(
            f"What the outcomes themselves say, over every policy's decisions of the seed (types "
            f"with >= {MIN_MEASURED} measured outcomes there): the highest success rate is the "
            f"true best in {by_rate}/{judged} contexts ({by_rate / max(1, judged):.0%}), the "
            f"highest mean change in {by_change}/{judged} ({by_change / max(1, judged):.0%})."
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
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--truth", choices=("drawn", "seed"), default="drawn")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--policies", default=",".join(DEFAULT_POLICIES))
    parser.add_argument(
        "--borrow",
        type=float,
        default=ThompsonSampler().borrow,
        help="the agent's loan from its parent contexts (default: the product's)",
    )
    parser.add_argument("--save", help="also keep the runs in this file (pickle)")
    parser.add_argument("--load", help="report the runs kept in this file; run nothing")
    args = parser.parse_args(argv)
    if args.load:
        # Runs made by worker processes name this module as multiprocessing's main.
        sys.modules.setdefault("__mp_main__", sys.modules[__name__])
        with open(args.load, "rb") as fh:
            decisions, results = pickle.load(fh)
        report(results, decisions)
        return
    policies = [p for p in args.policies.split(",") if p]
    unknown = set(policies) - set(POLICIES)
    if unknown:
        parser.error(f"unknown policies: {', '.join(sorted(unknown))}")
    jobs = [
        RunJob(p, seed, args.decisions, args.sessions, args.truth, args.borrow)
        for seed in range(args.seeds)
        for p in policies
    ]
    mapper: Callable = map
    if args.jobs > 1:
        pool = ProcessPoolExecutor(args.jobs)
        mapper = pool.map
    results = list(mapper(run, jobs))
    if args.save:
        with open(args.save, "wb") as fh:
            pickle.dump((args.decisions, results), fh)
    report(results, args.decisions)


if __name__ == "__main__":
    main()
