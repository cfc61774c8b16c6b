// Build-time settings (Vite inlines VITE_* variables; see docs/clients.md).
const env = import.meta.env;

function list(value) {
  return (value || "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

export const config = {
  // Where the signup API lives; empty = the page's own origin.
  apiBaseUrl: (env.VITE_API_BASE_URL || "").replace(/\/+$/, ""),
  // Fingerprint public key: set = the real agent through @fingerprint/react; empty = sandbox.
  publicKey: env.VITE_FINGERPRINT_PUBLIC_KEY || "",
  region: env.VITE_FINGERPRINT_REGION || "us",
  // Proxy integration: your own endpoint(s) for the agent (comma-separated), first-party.
  endpoints: list(env.VITE_FINGERPRINT_ENDPOINTS),
  // Where the sandbox's stand-in agent is served (an absolute URL or a path on this origin).
  sandboxUrl: (env.VITE_FINGERPRINT_SANDBOX_URL || "/fp-sandbox").replace(/\/+$/, ""),
};
