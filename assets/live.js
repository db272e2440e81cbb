/*
 * Live chart push: one WebSocket per live page, started by a clientside callback with the
 * config from components/live_page.py (ids, texts, figure layout all come from there).
 * The messages it reads, every kind and field: docs/push-protocol.md (services/core/push.py).
 *
 * Why the chart is fed the way it is: several dash_clientside.set_props calls on one prop
 * before React re-renders collapse into the last one, so a burst would lose points. Points are
 * buffered here, one batch is sent, and the next only after the graph shows the previous one.
 * extendData is a delta, so every (re)connect starts from the server's backfill (full state).
 * Helpers: live_chart.js (figure, drawn checks), live_format.js (texts), live_anomalies.js
 * (anomaly list, chart bands and their labels), live_marks.js (intervention marks); all are loaded before any of this runs.
 */
(function () {
    "use strict";

    var BACKOFF_START_S = 0.5;
    var BACKOFF_MAX_S = 15;
    var OFFLINE_AFTER_FAILURES = 5;
    // A connection shorter than this that drops still counts as a failed attempt, so a
    // flapping server is not hammered every half second.
    var STABLE_MS = 10000;
    var PING_EVERY_MS = 25000;
    var SIGN_IN_ENDED = 4401;
    // Ticks come every few seconds and pongs every 25 s: this much silence is a dead socket.
    var SILENCE_LIMIT_MS = 65000;
    // A batch the graph has not shown by then was lost: reconnect for a fresh backfill.
    var DRAW_TIMEOUT_MS = 5000;
    var MAX_HISTORY = 50;
    // Open anomalies show how long they have lasted, to the second; staleness is checked as often.
    var CLOCK_MS = 1000;
    // No tick for this many tick intervals (plus a second of slack for the publish path) and the
    // values on screen are stale.
    var STALE_AFTER_TICKS = 2;
    var STALE_SLACK_MS = 1000;

    // Read by tests and the latency benchmark.
    var live = (window.ecLive = window.ecLive || {});
    live.drawn = live.drawn || 0;
    live.lastDrawn = live.lastDrawn || null;
    live.latencies = live.latencies || [];
    live.backfills = live.backfills || 0;
    live.batches = live.batches || 0;
    live.duplicates = live.duplicates || 0;
    live.lightHistory = live.lightHistory || [];
    live.light = live.light || null;
    live.socket = null;
    // The stale banner's text ("" while live): read by tests.
    live.stale = "";

    var current = null;

    function newState(cfg) {
        var S = {
            cfg: cfg, ws: null, stopped: false, failures: 0, liveSince: 0, lastHeard: 0,
            retryTimer: null, pingTimer: null, clockTimer: null, scheduled: false,
            // Chart feed: points waiting, newest accepted time, a backfill waiting, the batch
            // or figure in flight, and the figure revision the in-flight work belongs to.
            buffer: [], lastTs: -Infinity, figure: null, pending: null, revision: 0,
            // Props per component id, set once the component is on the page.
            ui: {}, banner: null, light: null,
            // Staleness: the newest point's time, when one last arrived, the text shown.
            newestPoint: null, heardPointAt: 0, ended: false, stale: null,
            // Bands: true while the graph's anomaly bands may not match the episodes yet.
            bands: false
        };
        window.ecAnomalies.init(S);
        window.ecMarks.init(S);
        return S;
    }

    // -- UI updates (applied once their component is on the page) ------------------------------

    // A panel without this part (an embedded panel shows only some) has no id for it.
    function queueProps(S, id, props) {
        if (!id) { return; }
        var merged = S.ui[id] || {};
        Object.keys(props).forEach(function (key) { merged[key] = props[key]; });
        S.ui[id] = merged;
        schedule(S);
    }

    // Stores render no element, so Dash's own layout is asked as well.
    function onPage(id) {
        if (document.getElementById(id)) { return true; }
        var api = window.dash_component_api;
        return Boolean(api && api.getLayout && api.getLayout(id) !== undefined);
    }

    function applyQueuedProps(S) {
        Object.keys(S.ui).forEach(function (id) {
            if (onPage(id)) {
                window.dash_clientside.set_props(id, S.ui[id]);
                delete S.ui[id];
            }
        });
    }

    function setLight(S, state, detail) {
        if (S.light !== state) {
            S.light = state;
            live.light = state;
            live.lightHistory.push(state);
            live.lightHistory.splice(0, live.lightHistory.length - MAX_HISTORY);
        }
        queueProps(S, S.cfg.ids.light, {className: "light light-" + state, title: detail || state});
        queueProps(S, S.cfg.ids.lightText, {children: state});
    }

    function setBanner(S, text) {
        if (S.banner === text) { return; }
        S.banner = text;
        queueProps(S, S.cfg.ids.banner, {
            children: text,
            className: text ? "banner" : "banner banner-empty"
        });
    }

    // Not live: the socket is down, or a live session's ticks stopped coming. Values grey out
    // and a banner says since when; it clears itself on the next tick or backfill.
    function checkStale(S) {
        var msgs = S.cfg.messages.stale;
        var now = Date.now();
        var quietMs = STALE_AFTER_TICKS * S.cfg.tickSeconds * 1000 + STALE_SLACK_MS;
        var why = null;
        if (S.light === "reconnecting" || S.light === "offline") {
            why = msgs.socket;
        } else if (S.light === "live" && !S.ended && S.newestPoint &&
                   now - S.heardPointAt > quietMs) {
            why = msgs.ticks;
        }
        var text = "";
        if (why) {
            var since = window.ecFormat.parseTime(S.newestPoint);
            text = since === null
                ? msgs.short.replace("{why}", why)
                : msgs.since.replace("{since}", window.ecFormat.clockUtc(S.newestPoint).replace(" UTC", ""))
                    .replace("{ago}", window.ecFormat.duration((now - since) / 1000))
                    .replace("{why}", why);
        }
        if (text === S.stale) { return; }
        var was = Boolean(S.stale);
        S.stale = text;
        live.stale = text;
        queueProps(S, S.cfg.ids.stale, {
            children: text,
            className: text ? "stale-banner" : "stale-banner banner-empty"
        });
        if (was !== Boolean(text)) {
            queueProps(S, S.cfg.ids.body, {className: text ? "live-body stale" : "live-body"});
        }
    }

    function heardPoint(S, timestamp) {
        S.newestPoint = timestamp;
        S.heardPointAt = Date.now();
        checkStale(S);
    }

    // Texts from assets/live_format.js, the same formats as components/live_page.py.
    function showPoint(S, point) {
        var ids = S.cfg.ids;
        var text = window.ecFormat.point(S.cfg.bands, point);
        queueProps(S, ids.score, {children: text.score});
        queueProps(S, ids.category, {
            children: text.category,
            className: "category cat-" + text.category
        });
        queueProps(S, ids.updated, {children: text.updated});
        Object.keys(text.signals).forEach(function (key) {
            queueProps(S, ids.signals[key], {children: text.signals[key]});
        });
    }

    // The anomaly list, re-sent whole whenever its text changes.
    function showAnomalies(S) {
        var props = window.ecAnomalies.listProps(S, Date.now());
        if (props) { queueProps(S, S.cfg.ids.anomalies, props); }
    }

    // -- the chart -----------------------------------------------------------------------------

    // graphDiv, isDrawn, confirmDrawn and buildFigure: assets/live_chart.js (loaded after).
    function chart() { return window.ecChart; }

    function flushChart(S) {
        var gd = chart().graphDiv(S);
        if (!gd) { return; }
        var now = Date.now();
        if (S.pending) {
            if (!chart().isDrawn(gd, S.pending)) {
                if (now - S.pending.at > DRAW_TIMEOUT_MS && !document.hidden) {
                    S.pending = null;
                    dropSocket(S);
                }
                return;
            }
            chart().confirmDrawn(S, S.pending);
            S.pending = null;
            S.bands = true;
        }
        // Nothing of ours is on its way to the graph: the bands can follow the drawn window (a
        // figure still to send brings its own). A changed graph gets the next batch next time.
        if (S.bands && !S.figure && S.revision > 0) {
            var bands = window.ecAnomalies.sync(S, gd, function () { kick(S); });
            S.bands = bands !== "same";
            if (bands === "changed") { return; }
        }
        if (S.figure) {
            var points = S.figure;
            S.figure = null;
            S.revision += 1;
            var figure = chart().buildFigure(S, points);
            window.dash_clientside.set_props(S.cfg.ids.graph, {figure: figure});
            var last = points.length ? points[points.length - 1].timestamp : null;
            S.pending = {revision: S.revision, last: last, points: [], at: now};
            return;
        }
        if (S.buffer.length) {
            var batch = S.buffer;
            S.buffer = [];
            var update = {
                x: [batch.map(function (p) { return p.timestamp; })],
                y: [batch.map(function (p) { return p.score; })]
            };
            window.dash_clientside.set_props(S.cfg.ids.graph, {
                extendData: [update, [0], S.cfg.maxPoints]
            });
            S.pending = {
                revision: S.revision,
                last: batch[batch.length - 1].timestamp,
                points: batch,
                at: now
            };
            showPoint(S, batch[batch.length - 1]);
        }
    }

    function schedule(S) {
        if (S.scheduled || S.stopped) { return; }
        S.scheduled = true;
        var run = function () {
            S.scheduled = false;
            if (S.stopped) { return; }
            flushChart(S);
            applyQueuedProps(S);
            var busy = S.pending || S.figure || S.buffer.length || S.bands;
            if (busy || Object.keys(S.ui).length) {
                schedule(S);
            }
        };
        // Animation frames stop in background tabs; timers keep the buffer draining there.
        if (document.hidden) {
            setTimeout(run, 100);
        } else {
            window.requestAnimationFrame(run);
        }
    }

    // The graph was drawn, by us or by Dash: check its bands.
    function kick(S) {
        if (current === S && S.revision > 0) {
            S.bands = true;
            schedule(S);
        }
    }

    // -- messages ------------------------------------------------------------------------------

    function onBackfill(S, msg) {
        // Intervention pushes missed while disconnected: re-read the agent's panels too.
        bumpAgent(S);
        var points = (msg.points || []).slice().sort(function (a, b) {
            return Date.parse(a.timestamp) - Date.parse(b.timestamp);
        });
        var lastTs = points.length ? Date.parse(points[points.length - 1].timestamp) : -Infinity;
        S.buffer = S.buffer.filter(function (p) { return Date.parse(p.timestamp) > lastTs; });
        S.lastTs = S.buffer.length ? Date.parse(S.buffer[S.buffer.length - 1].timestamp) : lastTs;
        // Panels without the chart only follow anomalies and interventions.
        S.figure = S.cfg.ids.graph ? points : null;
        live.backfills += 1;
        window.ecAnomalies.reset(S, msg.anomalies);
        window.ecMarks.reset(S, msg.marks);
        showAnomalies(S);
        S.ended = msg.status === "ended";
        if (S.ended) {
            setBanner(S, S.cfg.messages.ended);
        } else {
            setBanner(S, points.length || S.buffer.length ? "" : S.cfg.messages.waiting);
        }
        if (points.length && !S.buffer.length) {
            showPoint(S, points[points.length - 1]);
        }
        S.liveSince = Date.now();
        if (msg.feed === "down") {
            setBanner(S, S.cfg.messages.hubDown);
            setLight(S, "reconnecting", "the server lost its live feed; waiting for it");
        } else {
            setLight(S, "live", "receiving live scores");
        }
        var newest = S.buffer.length ? S.buffer[S.buffer.length - 1] : points[points.length - 1];
        if (newest) {
            heardPoint(S, newest.timestamp);
        } else {
            checkStale(S);
        }
        schedule(S);
    }

    function onTick(S, msg) {
        var ts = Date.parse(msg.timestamp);
        if (isNaN(ts) || typeof msg.score !== "number") { return; }
        if (ts <= S.lastTs) {
            live.duplicates += 1;
            return;
        }
        S.lastTs = ts;
        heardPoint(S, msg.timestamp);
        if (!S.cfg.ids.graph) { return; }
        S.buffer.push(msg);
        setBanner(S, "");
        schedule(S);
    }

    function onMessage(S, event) {
        S.lastHeard = Date.now();
        var msg = null;
        try {
            msg = JSON.parse(event.data);
        } catch (err) {
            // The server only sends JSON; anything else is not ours to show.
        }
        if (!msg || typeof msg !== "object") { return; }
        if (msg.sessionId !== undefined && msg.sessionId !== S.cfg.sessionId) { return; }
        if (msg.kind === "backfill") {
            onBackfill(S, msg);
        } else if (msg.kind === "tick") {
            onTick(S, msg);
        } else if (msg.kind === "anomaly") {
            if (window.ecAnomalies.apply(S, msg)) {
                showAnomalies(S);
                kick(S);
            }
        } else if (msg.kind === "intervention") {
            bumpAgent(S);
        } else if (msg.kind === "mark") {
            if (window.ecMarks.apply(S, msg)) { kick(S); }
        } else if (msg.kind === "ended") {
            S.ended = true;
            setBanner(S, S.cfg.messages.ended);
            checkStale(S);
        } else if (msg.kind === "hub_down") {
            setBanner(S, S.cfg.messages.hubDown);
            setLight(S, "reconnecting", "the server lost its live feed; waiting for it");
        }
    }

    // The agent's panels render from the database on the server: a change only needs a nudge.
    function bumpAgent(S) {
        S.agentBumps = (S.agentBumps || 0) + 1;
        queueProps(S, S.cfg.ids.agentSignal, {data: S.agentBumps});
    }

    // -- connection ----------------------------------------------------------------------------

    function socketUrl(cfg) {
        var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
        return scheme + window.location.host + cfg.socketPath + encodeURIComponent(cfg.sessionId);
    }

    function connect(S) {
        S.retryTimer = null;
        if (S.stopped || S.signInEnded) { return; }
        var ws = new WebSocket(socketUrl(S.cfg));
        S.ws = ws;
        S.liveSince = 0;
        S.lastHeard = Date.now();
        live.socket = ws;
        ws.onmessage = function (event) { if (S.ws === ws) { onMessage(S, event); } };
        ws.onclose = function (event) {
            if (S.ws !== ws) { return; }
            if (event.code === SIGN_IN_ENDED) {
                signInEnded(S, event.reason);
            } else {
                onDrop(S);
            }
        };
    }

    // Forget the socket at once: a dead one may take long to report its close.
    function release(S) {
        var ws = S.ws;
        S.ws = null;
        live.socket = null;
        if (ws) {
            ws.onmessage = null;
            ws.onclose = null;
            ws.close();
        }
    }

    // The server closes with this when the sign-in expired or was signed out: reconnecting
    // would only be refused, so the page stops and says what to do.
    function signInEnded(S, reason) {
        S.ws = null;
        live.socket = null;
        S.signInEnded = true;
        clearTimeout(S.retryTimer);
        var message = reason || "your sign-in ended: open a new sign-in link";
        setLight(S, "offline", message);
        setBanner(S, "The live feed stopped: " + message + ".");
    }

    function dropSocket(S) {
        if (S.ws) {
            release(S);
            onDrop(S);
        }
    }

    function onDrop(S) {
        S.ws = null;
        live.socket = null;
        if (S.stopped) { return; }
        // A drop after a stable connection starts the backoff over; a socket that never got
        // going, or dropped soon after, counts as one more failed attempt.
        var stable = S.liveSince && Date.now() - S.liveSince >= STABLE_MS;
        S.failures = stable ? 0 : S.failures + 1;
        S.liveSince = 0;
        var base = Math.min(BACKOFF_MAX_S, BACKOFF_START_S * Math.pow(2, S.failures));
        // Jitter spreads the reconnects of many browsers after a server restart.
        var delay = base * (0.5 + Math.random() * 0.5);
        var offline = S.failures >= OFFLINE_AFTER_FAILURES || navigator.onLine === false;
        var detail = "retrying in " + delay.toFixed(1) + " s (" + S.failures + " failed in a row)";
        setLight(S, offline ? "offline" : "reconnecting", detail);
        checkStale(S);
        clearTimeout(S.retryTimer);
        S.retryTimer = setTimeout(function () { connect(S); }, delay * 1000);
    }

    function keepAlive(S) {
        var ws = S.ws;
        if (!ws || ws.readyState !== WebSocket.OPEN) { return; }
        if (Date.now() - S.lastHeard > SILENCE_LIMIT_MS) {
            dropSocket(S);
            return;
        }
        ws.send(JSON.stringify({type: "ping"}));
    }

    function stop() {
        var S = current;
        current = null;
        if (!S) { return; }
        S.stopped = true;
        clearTimeout(S.retryTimer);
        clearInterval(S.pingTimer);
        clearInterval(S.clockTimer);
        release(S);
    }

    function start(cfg) {
        stop();
        if (cfg && cfg.sessionId) {
            var S = newState(cfg);
            current = S;
            live.lightHistory.length = 0;
            setLight(S, "connecting", "opening the live feed");
            S.pingTimer = setInterval(function () { keepAlive(S); }, PING_EVERY_MS);
            S.clockTimer = setInterval(function () {
                if (window.ecAnomalies.hasOpen(S)) { showAnomalies(S); }
                checkStale(S);
            }, CLOCK_MS);
            connect(S);
        }
        return window.dash_clientside.no_update;
    }

    // Chrome keeps a page's sockets open while it sits in the back/forward cache: close ours
    // when the page is hidden that way, and come back with a fresh backfill if it is restored.
    window.addEventListener("pagehide", function () {
        if (current) {
            clearTimeout(current.retryTimer);
            release(current);
        }
    });
    window.addEventListener("pageshow", function (event) {
        var S = current;
        if (event.persisted && S && !S.ws) {
            S.failures = 0;
            setLight(S, "reconnecting", "page restored; reconnecting");
            connect(S);
        }
    });

    window.addEventListener("offline", function () {
        if (current) { setLight(current, "offline", "the browser is offline"); }
    });
    window.addEventListener("online", function () {
        var S = current;
        if (S && !S.ws) {
            clearTimeout(S.retryTimer);
            setLight(S, "reconnecting", "back online; reconnecting");
            connect(S);
        }
    });

    live.start = start;
    live.stop = stop;
    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.ecLive = {start: start};
})();
