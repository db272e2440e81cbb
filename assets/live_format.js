/*
 * Texts of the live page for pushed data, formatted exactly as components/live_page.py and
 * components/anomalies.py format the page's first render. Pure functions, no DOM. The fields
 * they read (signals, EPISODE): docs/push-protocol.md.
 */
(function () {
    "use strict";

    var ARROW = "\u2192";

    function num(value) {
        return typeof value === "number" && isFinite(value) ? value : 0;
    }

    function isNum(value) {
        return typeof value === "number" && isFinite(value);
    }

    // bands: [[floor, name], ...], highest floor first.
    function categoryOf(bands, score) {
        for (var i = 0; i < bands.length; i++) {
            if (score >= bands[i][0]) { return bands[i][1]; }
        }
        return bands[bands.length - 1][1];
    }

    function parseTime(value) {
        var ms = typeof value === "string" && value ? Date.parse(value) : NaN;
        return isNaN(ms) ? null : ms;
    }

    function clock(value) {
        var ms = parseTime(value);
        return ms === null ? "" : new Date(ms).toISOString().substring(11, 19);
    }

    // Texts of the score card and signal cards for one point.
    function point(bands, p) {
        var sig = p.signals || {};
        return {
            score: num(p.score).toFixed(2),
            category: categoryOf(bands, p.score),
            updated: "updated " + clock(p.timestamp) + " UTC",
            signals: {
                chat: num(sig.chat_msgs_per_min).toFixed(1),
                poll: sig.poll_active === false
                    ? "no poll"
                    : (num(sig.poll_participation) * 100).toFixed(0) + " %",
                users: num(sig.active_users) + " / " + num(sig.total_users),
                reactions: num(sig.reactions_per_min).toFixed(1),
                leave: (num(sig.user_leave_rate) * 100).toFixed(1) + " %"
            }
        };
    }

    function pad2(n) {
        return (n < 10 ? "0" : "") + n;
    }

    // 45s, 1m 20s, 1h 05m.
    function duration(seconds) {
        var total = Math.max(0, Math.round(num(seconds)));
        if (total < 60) { return total + "s"; }
        if (total < 3600) { return Math.floor(total / 60) + "m " + pad2(total % 60) + "s"; }
        return Math.floor(total / 3600) + "h " + pad2(Math.floor((total % 3600) / 60)) + "m";
    }

    function own(table, key) {
        return typeof key === "string" && Object.prototype.hasOwnProperty.call(table, key)
            ? table[key] : null;
    }

    function label(labels, kind) {
        if (typeof kind !== "string" || !kind) { return "Anomaly"; }
        var known = own(labels, kind);
        if (known) { return known; }
        var words = kind.replace(/_/g, " ").toLowerCase();
        return words.charAt(0).toUpperCase() + words.substring(1);
    }

    function severity(ep) {
        return ep.severity === "CRITICAL" ? "CRITICAL" : "WARNING";
    }

    // Two decimals, rounded half up (toFixed alone rounds the binary value).
    function hundredths(value) {
        return (Math.round(value * 100) / 100).toFixed(2);
    }

    // The trigger's numbers in plain words; the type's words for an episode without them.
    function whatFell(unmeasured, ep) {
        var trigger = ep.trigger;
        var fallback = own(unmeasured, ep.type) || "";
        if (!trigger || typeof trigger !== "object") { return fallback; }
        var reference = trigger.reference, value = trigger.value, seconds = trigger.seconds;
        if (!isNum(reference) || !isNum(value)) { return fallback; }
        if (trigger.rule === "activity") {
            return "chat and reactions " + Math.round(reference) + "/min " + ARROW + " " +
                Math.round(value) + "/min";
        }
        if (trigger.rule === "exit" && isNum(seconds)) {
            var before = Math.round(reference);
            return (before - Math.round(value)) + " of " + before + " left in " +
                duration(seconds);
        }
        if (trigger.rule === "score" && isNum(seconds)) {
            return "engagement " + hundredths(value) + ", under " + hundredths(reference) +
                " for " + duration(seconds);
        }
        if (trigger.rule === "attention") {
            return "viewers looking " + Math.round(reference * 100) + "% " + ARROW + " " +
                Math.round(value * 100) + "%";
        }
        return fallback;
    }

    // [label, severity, what fell], as components/anomalies.py headline; cfg is its
    // anomaly_config.
    function headline(cfg, ep) {
        return [label(cfg.labels, ep.type), severity(ep), whatFell(cfg.unmeasured, ep)];
    }

    function clockUtc(value) {
        var text = clock(value);
        return text ? text + " UTC" : "--:--:-- UTC";
    }

    // How long an episode has lasted (up to nowMs while open) and how it ended.
    function lasted(episode, nowMs) {
        var started = parseTime(episode.startedAt);
        var ended = parseTime(episode.endedAt);
        if (started === null) { return ""; }
        if (ended === null) { return "ongoing for " + duration((nowMs - started) / 1000); }
        var text = "lasted " + duration((ended - started) / 1000);
        if (episode.recovered) {
            return isNum(episode.recoverySeconds)
                ? text + " · recovered in " + duration(episode.recoverySeconds)
                : text + " · recovered";
        }
        return text + " · ended without recovery";
    }

    window.ecFormat = {
        num: num,
        parseTime: parseTime,
        point: point,
        duration: duration,
        severity: severity,
        headline: headline,
        clockUtc: clockUtc,
        lasted: lasted
    };
})();
