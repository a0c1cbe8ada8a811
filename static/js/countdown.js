/* Live countdowns: every <span data-deadline="ISO 8601"> (contract_tags.live_countdown) ticks each second.
   The server already rendered the text ("13 days 4 hours"); without JavaScript it simply stays. Units are
   spelled by the browser in the page's language (Intl.NumberFormat), so no catalogue is needed here. */
(function () {
  var spans = document.querySelectorAll("[data-deadline]");
  if (!spans.length || !window.Intl || !Intl.NumberFormat) return;
  var lang = document.documentElement.lang || undefined;
  function unit(name, value) {
    return new Intl.NumberFormat(lang, {style: "unit", unit: name, unitDisplay: "long"}).format(value);
  }
  function text(ms, passed) {
    if (ms <= 0) return passed;
    var s = Math.floor(ms / 1000);
    var days = Math.floor(s / 86400), hours = Math.floor((s % 86400) / 3600);
    var minutes = Math.floor((s % 3600) / 60), seconds = s % 60;
    if (days) return unit("day", days) + " " + unit("hour", hours) + " " + unit("minute", minutes);
    if (hours) return unit("hour", hours) + " " + unit("minute", minutes) + " " + unit("second", seconds);
    return (minutes ? unit("minute", minutes) + " " : "") + unit("second", seconds);
  }
  function tick() {
    var now = Date.now();
    spans.forEach(function (span) {
      var deadline = Date.parse(span.dataset.deadline);
      if (!isNaN(deadline)) span.textContent = text(deadline - now, span.dataset.passed || "");
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
