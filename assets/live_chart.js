/*
 * The live chart's figure and the checks that a batch sent to it has been drawn; the feed
 * itself (buffering, one batch in flight at a time) is in assets/live.js. Points and ticks as
 * the server sends them: docs/push-protocol.md.
 */
(function () {
    "use strict";

    var MAX_LATENCIES = 500;

    function graphDiv(S) {
        var outer = document.getElementById(S.cfg.ids.graph);
        if (!outer) { return null; }
        var gd = outer.querySelector(".js-plotly-plot");
        return gd && Array.isArray(gd.data) ? gd : null;
    }

    function isDrawn(gd, pending) {
        var trace = gd.data[0];
        if (!trace || trace.meta !== pending.revision) { return false; }
        var x = trace.x || [];
        var last = x.length ? x[x.length - 1] : null;
        return last === pending.last;
    }

    function confirmDrawn(S, pending) {
        var live = window.ecLive;
        live.lastDrawn = pending.last !== null ? pending.last : live.lastDrawn;
        var now = Date.now() / 1000;
        live.batches += pending.points.length ? 1 : 0;
        pending.points.forEach(function (point) {
            live.drawn += 1;
            if (typeof point.computedAt === "number") {
                live.latencies.push(now - point.computedAt);
            }
        });
        live.latencies.splice(0, live.latencies.length - MAX_LATENCIES);
    }

    function buildFigure(S, points) {
        // Copies: plotly writes computed values back into the objects it is given, and these
        // templates are reused for every backfill.
        var trace = JSON.parse(JSON.stringify(S.cfg.trace));
        trace.x = points.map(function (p) { return p.timestamp; });
        trace.y = points.map(function (p) { return p.score; });
        trace.meta = S.revision;
        var layout = JSON.parse(JSON.stringify(S.cfg.layout));
        return {data: [trace], layout: window.ecAnomalies.withBands(S, layout, trace.x)};
    }

    window.ecChart = {
        graphDiv: graphDiv,
        isDrawn: isDrawn,
        confirmDrawn: confirmDrawn,
        buildFigure: buildFigure
    };
})();
