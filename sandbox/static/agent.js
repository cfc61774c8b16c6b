// Fingerprint sandbox: a stand-in for the JS agent, served as an ES module.
//
//   const fp = await (await import("http://127.0.0.1:8100/agent.js")).start({apiKey});
//   const {event_id, visitor_id, sealed_result} = await fp.get({linkedId, tag});
//
// It keeps a random device id in localStorage and sends it with a few stable browser traits to
// the sandbox, which derives the visitor id and stores an event. No real fingerprinting.

const STORAGE_KEY = "_fpsandbox_device_id";
const DEFAULT_ENDPOINT = new URL(".", import.meta.url).href.replace(/\/$/, "");

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function deviceId() {
  try {
    let id = localStorage.getItem(STORAGE_KEY);
    if (!id) {
      id = randomId();
      localStorage.setItem(STORAGE_KEY, id);
    }
    return id;
  } catch (_) {
    // Storage blocked (some private modes): the device is new on every page load.
    return randomId();
  }
}

function traits() {
  return {
    userAgent: navigator.userAgent,
    webdriver: navigator.webdriver === true,
    languages: Array.from(navigator.languages || [navigator.language]),
    platform: navigator.platform,
    hardwareConcurrency: navigator.hardwareConcurrency || 0,
    screen: [screen.width, screen.height, screen.colorDepth],
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}

// `profile` (sandbox only) forces a browser profile such as "human" or "vpn": automated test
// browsers are otherwise, correctly, identified as bad bots.
export async function start({ apiKey, endpoint, profile } = {}) {
  const base = (endpoint || DEFAULT_ENDPOINT).replace(/\/$/, "");
  return {
    async get({ linkedId, tag } = {}) {
      const response = await fetch(`${base}/_sandbox/identify`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          apiKey,
          deviceId: deviceId(),
          traits: traits(),
          url: location.href,
          linkedId,
          tag,
          profile,
        }),
      });
      const body = await response.json();
      if (!response.ok) {
        const err = new Error(body.error ? body.error.message : `HTTP ${response.status}`);
        err.code = body.error ? body.error.code : undefined;
        throw err;
      }
      return body;
    },
  };
}

export const load = start;
