/* The contract page's Activity / Timeline / Terms / Messages: without JavaScript, in-page links to sections
   that follow each other; with it, Bootstrap tabs showing one section at a time (the one the address names,
   e.g. #messages, else the first). */
(function () {
  var nav = document.querySelector("[data-contract-tabs]");
  var panes = document.querySelector("[data-contract-panes]");
  if (!nav || !panes || !window.bootstrap) return;
  panes.classList.add("tab-content");
  function named() {
    return window.location.hash && nav.querySelector('a[href="' + CSS.escape(window.location.hash) + '"]');
  }
  function show(link) {
    if (link) window.bootstrap.Tab.getOrCreateInstance(link).show();
  }
  show(named() || nav.querySelector("a.active") || nav.querySelector("a"));
  window.addEventListener("hashchange", function () {
    var link = named();
    if (link) {
      show(link);
      link.scrollIntoView({block: "start"});
    }
  });
})();
