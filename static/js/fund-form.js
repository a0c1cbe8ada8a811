// Funding page: the total and fees of the ticked milestones (templates/contracts/milestones_fund.html).
(function () {
  var form = document.getElementById("fund-form");
  if (!form) return;
  function cents(v) { var p = String(v).split("."); return parseInt(p[0], 10) * 100 + parseInt(((p[1] || "") + "00").slice(0, 2), 10); }
  function money(c) { return "$" + (c / 100).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}); }
  function update() {
    var total = 0, fees = 0;
    form.querySelectorAll(".js-fund:checked").forEach(function (box) { total += cents(box.dataset.amount); fees += cents(box.dataset.fee); });
    document.getElementById("fund-total").textContent = money(total);
    document.getElementById("fund-fees").textContent = money(fees);
  }
  form.addEventListener("change", update);
  update();
})();
