/* kamen 卡盟 — the progress bar of a back-office job page (templates/admin/kamen/adminjob/job.html).
 *
 * The page carries the JSON endpoint to poll in data-status-url; while the job runs this asks it every
 * second and moves the bar, and once the job has finished it reloads the page, which then shows the
 * result and the download. No inline script: the admin's CSP allows scripts from 'self' only.
 */
(function () {
  "use strict";

  function follow(page) {
    var url = page.getAttribute("data-status-url");
    var bar = page.querySelector("[data-job-progress]");
    var count = page.querySelector("[data-job-count]");
    var state = page.querySelector("[data-job-state]");
    var failures = 0;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (status) {
          failures = 0;
          bar.value = status.percent;
          bar.textContent = status.percent + "%";
          count.textContent = status.done + " / " + status.total;
          state.textContent = status.state_label;
          if (status.finished) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          // A restarting server or a dropped connection: keep asking, more slowly.
          failures += 1;
          window.setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
        });
    }

    window.setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.querySelector(".kamen-job[data-status-url]");
    if (page && page.getAttribute("data-finished") === "0") follow(page);
  });
})();
