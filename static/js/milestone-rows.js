/* Milestone rows of the offer, proposal and job forms: add/remove rows in the browser (nothing typed is
   lost; without JavaScript the "Add another milestone" button posts the form) and keep the totals live. */
(function () {
  // Add/remove milestone rows in the browser (no reload, nothing typed is lost) and keep the totals live.
  var form = document.querySelector("form[data-fee-percent]");
  if (!form) return;
  var rows = document.getElementById("milestone-rows");
  var total = document.getElementById("id_milestones-TOTAL_FORMS");
  var template = document.getElementById("milestone-template");
  var feeBasisPoints = Math.round(parseFloat(form.dataset.feePercent) * 100);

  function cents(value) {
    var match = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(value || "");
    if (!match) return null;
    return parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }
  // The page's language and the site's currency (base.html puts both on <html>), as the server formats them.
  var html = document.documentElement;
  var moneyFormat = new Intl.NumberFormat(html.lang || "en", {style: "currency", currency: html.dataset.currency || "USD"});
  function money(c) {
    return moneyFormat.format(c / 100);
  }
  function visibleRows() {
    return Array.prototype.filter.call(rows.querySelectorAll("[data-row]"), function (row) {
      var del = row.querySelector("input[name$='-DELETE']");
      return !(del && del.checked);
    });
  }
  function update() {
    var sum = 0, fee = 0;
    visibleRows().forEach(function (row, index) {
      row.querySelector("[data-row-number]").textContent = index + 1;
      var c = cents(row.querySelector(".js-amount").value);
      if (c !== null) { sum += c; fee += Math.floor((c * feeBasisPoints + 5000) / 10000); }
    });
    document.getElementById("offer-total").textContent = money(sum);
    document.getElementById("offer-fee").textContent = money(fee);
    document.getElementById("offer-receives").textContent = money(sum - fee);
  }
  function enhance(row) {
    var del = row.querySelector("input[name$='-DELETE']");
    if (!del) return;
    del.closest(".form-check").classList.add("d-none");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-outline-danger";
    button.textContent = "Remove";
    button.setAttribute("aria-label", "Remove this milestone");
    button.addEventListener("click", function () {
      del.checked = true;
      row.hidden = true;
      update();
    });
    del.closest(".form-check").after(button);
    if (del.checked) row.hidden = true;
  }
  var addButton = document.getElementById("add-milestone");
  addButton.addEventListener("click", function (event) {
    event.preventDefault();
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, index).replace(/__number__/g, index + 1);
    rows.insertAdjacentHTML("beforeend", html);
    total.value = index + 1;
    var row = rows.lastElementChild;
    enhance(row);
    update();
    row.querySelector("input[type=text]").focus();
  });
  rows.querySelectorAll("[data-row]").forEach(enhance);
  rows.addEventListener("input", update);
  update();
})();
