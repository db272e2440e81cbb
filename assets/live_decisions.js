/*
 * The live page's waiting suggestions (components/agent_panel.py suggestion_card): a countdown
 * each second, loud in its last seconds, and keys on the focused suggestion: A approves, D
 * dismisses. The server renders the same texts; this keeps them current between its renders.
 */
(function () {
    "use strict";

    var TICK_MS = 1000;

    function expiryText(left, loudBelow) {
        if (left <= 0) { return "expired"; }
        var seconds = Math.round(left);
        return "expires in " + seconds + " s" + (left <= loudBelow ? ": decide now" : "");
    }

    function countDown() {
        var now = Date.now();
        document.querySelectorAll(".suggestion-card[data-expires]").forEach(function (card) {
            var expires = Date.parse(card.getAttribute("data-expires"));
            if (isNaN(expires)) { return; }
            var left = (expires - now) / 1000;
            var loudBelow = Number(card.getAttribute("data-expiring-seconds")) || 0;
            var label = card.querySelector(".suggestion-expiry");
            var text = expiryText(left, loudBelow);
            if (label && label.textContent !== text) { label.textContent = text; }
            card.classList.toggle("suggestion-expiring", left <= loudBelow);
        });
    }

    function typing(target) {
        var tag = target && target.tagName;
        return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
            (target && target.isContentEditable);
    }

    function onKey(event) {
        if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) { return; }
        if (typing(event.target)) { return; }
        var key = (event.key || "").toLowerCase();
        if (key !== "a" && key !== "d") { return; }
        var card = event.target && event.target.closest
            ? event.target.closest(".suggestion-card") : null;
        if (!card) { return; }
        var button = card.querySelector(key === "a" ? ".button-primary" : ".button:not(.button-primary)");
        if (button && !button.disabled) {
            event.preventDefault();
            button.click();
        }
    }

    setInterval(countDown, TICK_MS);
    document.addEventListener("keydown", onKey);
    window.ecDecisions = {expiryText: expiryText};
})();
