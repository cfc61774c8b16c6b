"""{% load fingerprint %}{% fingerprint_agent %}: Fingerprint's JS agent on a host's page.

Put it once on a page with a signup form that has the hidden inputs `fingerprint_event_id`
(and optionally `fingerprint_sealed_result`), as risk's django-allauth form renders them. On
submit, the agent identifies the browser, the inputs are filled, and the form is sent. Which
agent loads (Fingerprint's CDN, the site's own proxy integration, the sandbox in development)
is risk.agent's; with none configured the form is sent without an event id, and the signup is
refused as one without identification.
"""

from django import template

from risk.agent import agent_config

register = template.Library()


@register.inclusion_tag("risk/fingerprint/agent.html")
def fingerprint_agent() -> dict:
    return {"agent": agent_config()}
