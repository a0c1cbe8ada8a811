/* The contract page's Activity / Timeline / Terms / Messages: without JavaScript, in-page links to sections
   that follow each other; with it, Bootstrap tabs showing one section at a time (the one the address names,
   e.g. #messages, else the first). */
(function () {
  var nav = document.querySelector("[data-contract-tabs]");
  var panes = document.querySelector("[data-contract-panes]");
  if (!nav || !panes || !window.bootstrap) return;
  panes.classList.add("tab-content");
  var wanted = window.location.hash && nav.querySelector('a[href="' + window.location.hash + '"]');
  var first = wanted || nav.querySelector("a.active") || nav.querySelector("a");
  window.bootstrap.Tab.getOrCreateInstance(first).show();
})();
