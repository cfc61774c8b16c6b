// The backtest page's progress bar: asks the run's progress every 1.5 s and reloads the page
// (which then shows the figures) once the run is no longer running.
(function () {
  "use strict";
  const bar = document.getElementById("backtest-progress");
  if (!bar) return;
  const done = document.getElementById("backtest-done");
  const percent = document.getElementById("backtest-percent");

  async function poll() {
    try {
      const response = await fetch(bar.dataset.url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const progress = await response.json();
        bar.max = progress.total || 1;
        bar.value = progress.done;
        done.textContent = progress.done;
        percent.textContent = progress.percent + "%";
        if (progress.status !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // The server restarting: try again at the next tick.
    }
    window.setTimeout(poll, 1500);
  }

  window.setTimeout(poll, 1000);
})();
