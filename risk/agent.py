"""How a page loads Fingerprint's JS agent: one description, for the `{% fingerprint_agent %}`
template tag and any page script of the host's own (the reference project's signup page).

With a public key the agent comes from Fingerprint's CDN, or from the host's own proxy
integration (`FINGERPRINT_AGENT_ENDPOINT`), which ad blockers do not cut. Without one, in
development (or a benchmark that opted into the sandbox), it is the sandbox's stand-in agent.
Otherwise there is no agent to load, and the page shows no URL at all: a production page never
names a Server API or sandbox address.
"""

from __future__ import annotations

from django.conf import settings

from risk.conf import SANDBOX_PUBLIC_API_KEY, risk_settings

CDN_SCRIPT = "https://fpjscdn.net/v4/{key}"
PROXY_SCRIPT = "{endpoint}/web/v4/{key}"


def agent_config() -> dict | None:
    """{"kind", "url", "options"}: import `url` as an ES module and call its `start(options)`;
    None when no agent may be loaded here."""
    cfg = risk_settings()
    key = cfg.public_api_key
    if key:
        endpoint = cfg.agent_endpoint.rstrip("/")
        options: dict = {"apiKey": key, "region": cfg.region}
        if endpoint:
            options["endpoints"] = endpoint
            url = PROXY_SCRIPT.format(endpoint=endpoint, key=key)
        else:
            url = CDN_SCRIPT.format(key=key)
        return {"kind": "fingerprint", "url": url, "options": options}
    if cfg.sandboxed and (settings.DEBUG or cfg.sandbox_in_production):
        return {
            "kind": "sandbox",
            "url": f"{cfg.api_url}/agent.js",
            "options": {"apiKey": SANDBOX_PUBLIC_API_KEY},
        }
    return None
