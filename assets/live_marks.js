/*
 * The live chart's intervention marks: a dotted line where an intervention went out, labelled
 * with its type and, once measured, how it went ("Poll ✓ +0.08"). State is a map
 * interventionId -> chart mark (docs/push-protocol.md), replaced by every backfill and updated
 * by `mark` pushes; live_anomalies.js draws these overlays with the anomaly bands.
 */
(function () {
    "use strict";

    var MAX_MARKS = 50;

    function F() { return window.ecFormat; }

    function init(S) {
        S.marks = {};
    }

    function valid(mark) {
        return !!mark && typeof mark === "object" && typeof mark.interventionId === "string" &&
            mark.interventionId !== "" && F().parseTime(mark.time) !== null;
    }

    function sorted(S) {
        return Object.keys(S.marks).map(function (k) { return S.marks[k]; }).sort(function (a, b) {
            return F().parseTime(a.time) - F().parseTime(b.time);
        });
    }

    function add(S, mark) {
        S.marks[mark.interventionId] = mark;
        var all = sorted(S);
        all.slice(0, Math.max(0, all.length - MAX_MARKS)).forEach(function (dropped) {
            delete S.marks[dropped.interventionId];
        });
    }

    // A backfill: full state.
    function reset(S, list) {
        S.marks = {};
        (Array.isArray(list) ? list : []).forEach(function (mark) {
            if (valid(mark)) { add(S, mark); }
        });
    }

    // A `mark` push; true if it changed anything.
    function apply(S, msg) {
        if (!valid(msg.mark)) { return false; }
        add(S, msg.mark);
        return true;
    }

    // "Poll ✓ +0.08", "Poll ✗ −0.02", "Poll · measuring": words beside the colour.
    function text(cfg, mark) {
        var name = cfg.labels[mark.type] || String(mark.type || "Intervention");
        if (typeof mark.delta === "number" && isFinite(mark.delta)) {
            var sign = mark.delta < 0 ? "\u2212" : "+";
            var verdict = mark.success ? "\u2713" : "\u2717";
            return name + " " + verdict + " " + sign + Math.abs(mark.delta).toFixed(2);
        }
        return name + " \u00b7 " + (cfg.states[mark.status] || mark.status);
    }

    function colour(cfg, mark) {
        if (mark.success === true) { return cfg.colours.worked; }
        if (mark.success === false) { return cfg.colours.failed; }
        return cfg.colours.pending;
    }

    // Shapes, labelled, for the marks within the plotted window [first, last].
    function overlays(S, first, last) {
        var cfg = S.cfg.marks;
        var out = [];
        if (!cfg) { return out; }
        sorted(S).forEach(function (mark) {
            var at = F().parseTime(mark.time);
            if (at < first || at > last) { return; }
            var name = cfg.prefix + mark.interventionId;
            var ink = colour(cfg, mark);
            var late = window.ecAnomalies.nearEnd(at, first, last);
            // The label is the line's own (an annotation would widen the time axis).
            out.push({
                type: "line", name: name, xref: "x", yref: "paper",
                x0: mark.time, x1: mark.time, y0: 0, y1: 1,
                line: {color: ink, width: 2, dash: "dot"},
                label: {
                    text: text(cfg, mark), textposition: "start", textangle: 0,
                    xanchor: late ? "right" : "left", yanchor: "bottom", padding: 4,
                    font: {size: 11, color: ink}
                }
            });
        });
        return out;
    }

    window.ecMarks = {init: init, reset: reset, apply: apply, overlays: overlays, text: text};
})();
