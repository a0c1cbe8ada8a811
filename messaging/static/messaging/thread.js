// Threads: keep the newest message in view, drop duplicates, Ctrl/Cmd+Enter sends.
// Everything else (polling, sending, loading earlier messages) is htmx attributes in the templates.
(function () {
  if (window.messagingThread) return;
  window.messagingThread = true;
  var NEAR_BOTTOM = 120;
  var LIST = "[data-thread-messages]";

  function toBottom(list) { list.scrollTop = list.scrollHeight; }
  function init() { document.querySelectorAll(LIST).forEach(toBottom); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();

  document.addEventListener("htmx:beforeSwap", function (event) {
    var list = event.detail.target;
    if (!list || !list.matches || !list.matches(LIST)) return;
    var sending = event.detail.requestConfig && event.detail.requestConfig.verb === "post";
    var near = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM;
    list.dataset.stick = sending || near ? "1" : "";
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (!list || !list.matches || !list.matches(LIST)) return;
    var seen = {};
    list.querySelectorAll("[data-message-id]").forEach(function (item) {
      if (seen[item.id]) item.remove(); else seen[item.id] = true;
    });
    if (list.dataset.stick === "1") toBottom(list);
  });

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!field.matches || !field.matches("[data-thread-composer] textarea")) return;
    event.preventDefault();
    field.form.requestSubmit();
  });
})();
