// Sign-up: pre-select the browser's timezone if the visitor has not chosen one.
(function () {
  var select = document.getElementById("id_timezone");
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (select && tz && select.value === "UTC" && select.querySelector('option[value="' + tz + '"]')) {
    select.value = tz;
  }
})();
