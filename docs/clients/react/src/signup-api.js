// POST /api/signup and turn every documented answer into one outcome for the page.
import { config } from "./config.js";

export async function postSignup({ eventId, sealedResult, username, email, password }) {
  const body = { event_id: eventId, username, password };
  if (email) body.email = email;
  if (sealedResult) body.sealed_result = sealedResult;
  const response = await fetch(`${config.apiBaseUrl}/api/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    // not JSON (a proxy's error page): the status alone decides
  }
  return outcome(response, data);
}

function outcome(response, data) {
  const reference = data.reference ?? null;
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  switch (response.status) {
    case 201:
      return { kind: data.status === "created" ? "created" : "pending_review", reference };
    case 403:
      return { kind: "denied", reference };
    case 400:
      return { kind: "invalid", errors: data.errors || {}, message: data.message };
    case 429:
      return { kind: "throttled", retryAfter };
    case 503:
      return { kind: "unavailable", code: data.code, retryAfter, reference };
    default:
      return { kind: "error", status: response.status };
  }
}
