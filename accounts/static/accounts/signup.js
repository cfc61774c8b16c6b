// The signup page: identify the device with the Fingerprint agent when the form is submitted,
// then post the credentials and the event id to /api/signup and say what happened.

const config = JSON.parse(document.getElementById("agent-config").textContent);
const form = document.getElementById("signup-form");
const outcome = document.getElementById("outcome");
const button = document.getElementById("submit");
const FIELDS = ["username", "email", "password"];

// The agent module loads in the background; it is only *called* on submit (one event per try).
let agentPromise = null;
function agent() {
  if (!agentPromise) {
    if (!config) return Promise.reject(new Error("no Fingerprint agent is configured"));
    agentPromise = import(config.url).then((module) => module.start(config.options));
    agentPromise.catch(() => {
      agentPromise = null; // let the next submit try again
    });
  }
  return agentPromise;
}
agent().catch(() => {}); // warm up; errors are reported on submit

function show(kind, outcomeCode, title, ...lines) {
  outcome.className = `outcome ${kind}`;
  outcome.dataset.outcome = outcomeCode;
  outcome.replaceChildren();
  const heading = document.createElement("h2");
  heading.textContent = title;
  outcome.append(heading);
  for (const line of lines) {
    const p = document.createElement("p");
    if (typeof line === "object") {
      p.className = line.className;
      p.textContent = line.text;
    } else {
      p.textContent = line;
    }
    outcome.append(p);
  }
  outcome.hidden = false;
}

function reference(body) {
  return body && body.reference != null
    ? { className: "reference", text: `Reference: ${body.reference}` }
    : "";
}

function clearFieldErrors() {
  for (const name of FIELDS) {
    const input = form.elements[name];
    input.removeAttribute("aria-invalid");
    const error = document.getElementById(`${name}-error`);
    error.textContent = "";
    error.hidden = true;
  }
}

function showFieldErrors(errors) {
  let first = null;
  const other = [];
  for (const [name, list] of Object.entries(errors || {})) {
    const messages = list.map((item) => item.message || String(item)).join(" ");
    if (FIELDS.includes(name)) {
      const error = document.getElementById(`${name}-error`);
      error.textContent = messages;
      error.hidden = false;
      form.elements[name].setAttribute("aria-invalid", "true");
      first = first || form.elements[name];
    } else {
      other.push(messages);
    }
  }
  return { first, other };
}

async function identify(username) {
  const fp = await agent();
  const result = await fp.get({ linkedId: username, tag: { action: "signup" } });
  // The sealed result (when the workspace enables it) lets the server skip the API round trip.
  return { event_id: result.event_id || result.requestId, sealed_result: result.sealed_result || "" };
}

function describe(status, body, username) {
  if (status === 201 && body.status === "created") {
    form.hidden = true;
    show("ok", "created", "Your account is ready", `Welcome, ${username}! You can sign in now.`);
  } else if (status === 201) {
    form.hidden = true;
    show(
      "wait",
      "pending_review",
      "Almost there: your account is being reviewed",
      "We created your account, but a member of our team needs to check it before you can sign in. This usually takes less than a day.",
      reference(body),
    );
  } else if (status === 403) {
    show(
      "bad",
      "denied",
      "We could not create your account",
      "If you think this is a mistake, contact support and quote the reference below.",
      reference(body),
    );
  } else if (status === 400) {
    const { first, other } = showFieldErrors(body.errors);
    show(
      "bad",
      "invalid",
      "Please check the form",
      ...(other.length ? other : ["Fix the highlighted fields and try again."]),
    );
    if (first) first.focus();
  } else if (status === 429) {
    show("wait", "throttled", "Too many attempts", "Please wait a minute and try again.");
  } else if (status === 503) {
    const wait = Number(body.retry_after) || 5;
    show(
      "wait",
      "unavailable",
      "We can't create accounts right now",
      `Our verification service is busy. Please try again in ${wait} seconds.`,
      reference(body),
    );
  } else {
    show("bad", "error", "Something went wrong on our side", "Please try again later.");
  }
}

form.addEventListener("submit", async (submitEvent) => {
  submitEvent.preventDefault();
  clearFieldErrors();
  const data = Object.fromEntries(FIELDS.map((name) => [name, form.elements[name].value]));
  button.disabled = true;
  show("busy", "busy", "Creating your account…");
  try {
    let identification;
    try {
      identification = await identify(data.username);
    } catch (_) {
      show(
        "bad",
        "agent_error",
        "We could not check your browser",
        "Disable any blocker for this page, reload it and try again.",
      );
      return;
    }
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
        },
        body: JSON.stringify({ ...data, ...identification }),
      });
    } catch (_) {
      show(
        "bad",
        "network_error",
        "We couldn't reach the server",
        "Check your internet connection and try again.",
      );
      return;
    }
    let body = {};
    try {
      body = await response.json();
    } catch (_) {
      // not JSON (a proxy error page): the status alone decides
    }
    if (response.status === 503) body.retry_after = response.headers.get("Retry-After");
    describe(response.status, body, data.username);
  } finally {
    button.disabled = false;
  }
});
