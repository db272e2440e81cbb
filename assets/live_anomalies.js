/*
 * The live page's anomaly episodes: the list and the chart's bands, both redrawn from full
 * state (a map episodeId -> EPISODE) as components/anomalies.py draws the first render.
 * The EPISODE object and the `anomaly` and `backfill` messages: docs/push-protocol.md.
 *
 * The list goes through set_props as component dicts whose texts are string children (React
 * escapes them). Bands go straight to plotly with Plotly.react on the graph's current data and
 * layout, so the points extendData added and the producer's zoom stay as they are; they are
 * checked against what the graph shows after every draw, since a figure from Dash (a backfill,
 * a zoom synced back into the figure prop) brings its own shapes.
 */
(function () {
    "use strict";

    var MAX_EPISODES = 50;
    var RANK = {WARNING: 1, CRITICAL: 2};

    function F() { return window.ecFormat; }

    function init(S) {
        S.anomalies = {episodes: {}, listKey: null};
    }

    function severity(ep) { return F().severity(ep); }

    function valid(S, ep) {
        return !!ep && typeof ep === "object" && typeof ep.episodeId === "string" &&
            ep.episodeId !== "" && ep.sessionId === S.cfg.sessionId &&
            F().parseTime(ep.startedAt) !== null;
    }

    // Pushes can cross a backfill: an ended episode stays ended, and severity (the peak so
    // far) never goes down.
    function merge(old, ep) {
        if (!old) { return ep; }
        if (old.endedAt && !ep.endedAt) { return old; }
        if (RANK[severity(old)] > RANK[severity(ep)]) {
            return Object.assign({}, ep, {severity: old.severity});
        }
        return ep;
    }

    // Newest first, by start then id, as components/anomalies.py sorts.
    function sorted(S) {
        var eps = Object.keys(S.anomalies.episodes).map(function (k) {
            return S.anomalies.episodes[k];
        });
        return eps.sort(function (a, b) {
            var diff = F().parseTime(b.startedAt) - F().parseTime(a.startedAt);
            if (diff) { return diff; }
            return b.episodeId > a.episodeId ? 1 : b.episodeId < a.episodeId ? -1 : 0;
        });
    }

    function add(S, ep) {
        var episodes = S.anomalies.episodes;
        episodes[ep.episodeId] = merge(episodes[ep.episodeId], ep);
        sorted(S).slice(MAX_EPISODES).forEach(function (old) {
            delete episodes[old.episodeId];
        });
    }

    // A backfill: full state.
    function reset(S, list) {
        S.anomalies.episodes = {};
        (Array.isArray(list) ? list : []).forEach(function (ep) {
            if (valid(S, ep)) { add(S, ep); }
        });
    }

    // An `anomaly` push; true if it changed anything.
    function apply(S, msg) {
        if (!valid(S, msg.episode)) { return false; }
        add(S, msg.episode);
        return true;
    }

    function hasOpen(S) {
        return sorted(S).some(function (ep) { return !ep.endedAt; });
    }

    // -- the list ------------------------------------------------------------------------------

    function el(type, className, children) {
        return {
            type: type,
            namespace: "dash_html_components",
            props: {className: className, children: children}
        };
    }

    function item(S, ep, nowMs) {
        var f = F();
        var head = f.headline(S.cfg.anomalies, ep);
        var sev = head[1];
        var state = ep.endedAt ? "ended" : "open";
        var explanation = ep.explanation === null || ep.explanation === undefined
            ? "" : String(ep.explanation);
        return el("Div", "anomaly anomaly-" + state + " anomaly-" + sev, [
            el("Div", "anomaly-head", [
                el("Span", "anomaly-type", head[0]),
                el("Span", "severity severity-" + sev, sev),
                // Right beside the severity: the numbers it was decided on.
                el("Span", "anomaly-score", head[2]),
                el("Span", "anomaly-time", "started " + f.clockUtc(ep.startedAt)),
                el("Span", "anomaly-lasted", f.lasted(ep, nowMs))
            ]),
            el("Div", "anomaly-explanation", explanation)
        ]);
    }

    // The list's props, or null when the list on screen already says this.
    function listProps(S, nowMs) {
        var eps = sorted(S);
        var children = eps.length
            ? eps.map(function (ep) { return item(S, ep, nowMs); })
            : [el("Div", "anomaly-empty", S.cfg.anomalies.empty)];
        var key = JSON.stringify(children);
        if (key === S.anomalies.listKey) { return null; }
        S.anomalies.listKey = key;
        return {children: children};
    }

    // -- the bands -----------------------------------------------------------------------------

    // Ours: an anomaly band or its label, an intervention mark (by name).
    function isOurs(S, item) {
        if (!item || typeof item.name !== "string") { return false; }
        var marks = S.cfg.marks;
        return item.name.indexOf(S.cfg.anomalies.prefix) === 0 ||
            item.name.indexOf(S.cfg.anomalies.labelPrefix) === 0 ||
            (!!marks && item.name.indexOf(marks.prefix) === 0);
    }

    // Whether `at` lies in the last third of the window [first, last]: a label starting there
    // would run off the chart.
    function nearEnd(at, first, last) {
        return last > first && (at - first) / (last - first) > 2 / 3;
    }

    // Bands by the rules of components/anomalies.py anomaly_shapes, each labelled with its type
    // and severity, then the intervention marks (live_marks.js): all shapes, labels included;
    // xs: the plotted timestamps.
    function overlays(S, xs) {
        var f = F();
        var out = [];
        if (!xs || !xs.length) { return out; }
        var first = f.parseTime(xs[0]);
        var last = f.parseTime(xs[xs.length - 1]);
        if (first === null || last === null) { return out; }
        var cfg = S.cfg.anomalies;
        sorted(S).reverse().forEach(function (ep) {
            var started = f.parseTime(ep.startedAt);
            var ended = f.parseTime(ep.endedAt);
            if (ended !== null && ended < first) { return; }
            var x1 = ended !== null ? ep.endedAt : (last > started ? xs[xs.length - 1] : ep.startedAt);
            var x0 = started < first ? xs[0] : ep.startedAt;
            var sev = severity(ep);
            out.push({
                type: "rect",
                name: cfg.prefix + ep.episodeId,
                xref: "x",
                yref: "paper",
                x0: x0,
                x1: x1,
                y0: 0,
                y1: 1,
                fillcolor: cfg.colours[sev],
                opacity: cfg.opacity,
                layer: "below",
                line: {width: 0}
            });
            // Words, not colour alone: the type and severity at the band's top, reading away
            // from the chart's nearer edge. A shape of its own: an annotation would widen the
            // time axis to fit its text.
            var late = nearEnd(f.parseTime(x0), first, last);
            var at = late ? x1 : x0;
            out.push({
                type: "line",
                name: cfg.labelPrefix + ep.episodeId,
                xref: "x", yref: "paper", x0: at, x1: at, y0: 1, y1: 1,
                line: {width: 0},
                label: {
                    text: f.headline(cfg, ep)[0] + " \u00b7 " + sev,
                    textposition: "start", xanchor: late ? "right" : "left", yanchor: "top",
                    textangle: 0, font: {size: 11, color: cfg.ink[sev]}
                }
            });
        });
        return out.concat(window.ecMarks.overlays(S, first, last));
    }

    function overlayKey(shapes) {
        return JSON.stringify(shapes.map(function (s) {
            return [s.name, s.x0, s.x1, s.fillcolor, s.opacity, s.line && s.line.color,
                    s.label && s.label.text];
        }));
    }

    // A layout for a figure being built: the template's shapes plus ours.
    function withBands(S, layout, xs) {
        layout.shapes = (layout.shapes || []).concat(overlays(S, xs));
        return layout;
    }

    // Bring the graph's bands in line with the episodes and the plotted window. Call only
    // when no figure or extendData of ours is on its way to the graph. Returns "same",
    // "changed" (check again once drawn) or "wait" (the graph is busy: try again later).
    function sync(S, gd, onDraw) {
        if (!window.Plotly || gd.classList.contains("dash-graph--pending") || !gd.layout) {
            return "wait";
        }
        if (!gd.ecBandsHooked) {
            // Dash replots with the figure prop's shapes (a zoom synced back into it, say).
            gd.ecBandsHooked = true;
            gd.on("plotly_afterplot", onDraw);
        }
        var trace = gd.data[0];
        var want = overlays(S, trace && trace.x ? Array.from(trace.x) : []);
        var shapes = gd.layout.shapes || [];
        var mine = shapes.filter(function (s) { return isOurs(S, s); });
        if (overlayKey(mine) === overlayKey(want)) { return "same"; }
        var layout = Object.assign({}, gd.layout, {
            shapes: shapes.filter(function (s) { return !isOurs(S, s); }).concat(want)
        });
        window.Plotly.react(gd, gd.data, layout);
        return "changed";
    }

    window.ecAnomalies = {
        nearEnd: nearEnd,
        init: init,
        reset: reset,
        apply: apply,
        hasOpen: hasOpen,
        listProps: listProps,
        withBands: withBands,
        sync: sync
    };
})();
