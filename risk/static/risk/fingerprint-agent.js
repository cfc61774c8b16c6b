// {% fingerprint_agent %}: identify the browser when a form with a `fingerprint_event_id` input
// is submitted, fill the input (and `fingerprint_sealed_result`), then send the form.
const config = JSON.parse(document.getElementById("fingerprint-agent-config").textContent);
let agentPromise = null;

function agent() {
  if (!config) return Promise.reject(new Error("no Fingerprint agent is configured"));
  if (!agentPromise) {
    agentPromise = import(config.url).then((module) => module.start(config.options));
    agentPromise.catch(() => {
      agentPromise = null; // let the next submit try again
    });
  }
  return agentPromise;
}
agent().catch(() => {}); // load it early; it is only asked on submit

document.addEventListener(
  "submit",
  async (event) => {
    const form = event.target;
    const field = form.querySelector('input[name="fingerprint_event_id"]');
    if (!field || form.dataset.fingerprintDone) return;
    event.preventDefault();
    try {
      const result = await (await agent()).get({ tag: { action: "signup" } });
      field.value = result.event_id || result.requestId || "";
      const sealed = form.querySelector('input[name="fingerprint_sealed_result"]');
      if (sealed) sealed.value = result.sealed_result || "";
    } catch (_) {
      // No identification (a blocker, no agent): the server refuses a signup without one.
    }
    form.dataset.fingerprintDone = "1";
    if (form.requestSubmit) form.requestSubmit(event.submitter || undefined);
    else form.submit();
  },
  true,
);
