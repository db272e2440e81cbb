/*
 * Opt-in browser notifications, and an optional sound, for the CRITICAL alerts the shell shows
 * (sessions the producer is not looking at). The overview holds the controls; the choice lives
 * in this browser (localStorage), the alerts already notified in this tab (sessionStorage).
 * Listeners hang on the document, so Dash re-rendering the page never loses them.
 */
(function () {
    "use strict";
    var ON_KEY = "ec-notify-critical";
    var SOUND_KEY = "ec-notify-sound";
    var DONE_KEY = "ec-notified-episodes";

    function wanted() {
        return window.localStorage.getItem(ON_KEY) === "on";
    }

    function soundWanted() {
        return window.localStorage.getItem(SOUND_KEY) === "on";
    }

    function supported() {
        return typeof window.Notification !== "undefined";
    }

    function notified() {
        try {
            return JSON.parse(window.sessionStorage.getItem(DONE_KEY)) || {};
        } catch (err) {
            return {};
        }
    }

    // The observer below sees every change to the page, these included: writing only what
    // differs keeps it from waking itself for ever.
    function put(node, text) {
        if (node.textContent !== text) {
            node.textContent = text;
        }
    }

    function describe() {
        var button = document.getElementById("notify-toggle");
        var status = document.getElementById("notify-status");
        var sound = document.querySelector("#notify-sound input");
        if (!button || !status) {
            return;
        }
        var on = wanted() && supported() && window.Notification.permission === "granted";
        put(button, on ? "Stop notifying me" : "Notify me of critical alerts");
        var pressed = on ? "true" : "false";
        if (button.getAttribute("aria-pressed") !== pressed) {
            button.setAttribute("aria-pressed", pressed);
        }
        if (sound) {
            sound.checked = soundWanted();
        }
        if (!supported()) {
            put(status, "This browser cannot show notifications.");
        } else if (window.Notification.permission === "denied") {
            put(status, "Notifications are blocked for this site in the browser's settings.");
        } else {
            put(status, on ? "On: critical alerts in other sessions notify you." : "");
        }
    }

    function beep() {
        var Context = window.AudioContext || window.webkitAudioContext;
        if (!Context) {
            return;
        }
        var context = new Context();
        var tone = context.createOscillator();
        var gain = context.createGain();
        tone.frequency.value = 880;
        gain.gain.value = 0.15;
        tone.connect(gain);
        gain.connect(context.destination);
        tone.start();
        tone.stop(context.currentTime + 0.25);
    }

    function announce(alert) {
        var id = alert.getAttribute("data-episode");
        var done = notified();
        if (!id || done[id]) {
            return;
        }
        done[id] = Date.now();
        window.sessionStorage.setItem(DONE_KEY, JSON.stringify(done));
        if (!wanted() || !supported() || window.Notification.permission !== "granted") {
            return;
        }
        var link = alert.querySelector("a");
        var text = alert.textContent.replace(/open it\s*Dismiss\s*$/, "").replace(/\s+—\s*$/, "");
        var note = new window.Notification("Critical alert", { body: text.trim(), tag: id });
        note.onclick = function () {
            window.focus();
            if (link) {
                link.click();
            }
        };
        if (soundWanted()) {
            beep();
        }
    }

    document.addEventListener("click", function (event) {
        var button = event.target.closest && event.target.closest("#notify-toggle");
        if (!button) {
            return;
        }
        if (wanted()) {
            window.localStorage.setItem(ON_KEY, "off");
            describe();
            return;
        }
        if (!supported()) {
            describe();
            return;
        }
        window.localStorage.setItem(ON_KEY, "on");
        window.Notification.requestPermission().then(describe, describe);
    });

    document.addEventListener("change", function (event) {
        if (event.target.closest && event.target.closest("#notify-sound")) {
            window.localStorage.setItem(SOUND_KEY, event.target.checked ? "on" : "off");
        }
    });

    new MutationObserver(function () {
        describe();
        document.querySelectorAll("#critical-alerts .critical-alert").forEach(announce);
    }).observe(document.documentElement, { childList: true, subtree: true });
})();
