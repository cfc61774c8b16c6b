"""risk/templatetags/fingerprint.py: {% fingerprint_agent %} puts risk.agent's choice on a host's
page, and nothing that names an address when there is no agent to load."""

import json
import re

from django.template import Context, Template

PAGE = Template("{% load fingerprint %}<form></form>{% fingerprint_agent %}")


def config(html: str):
    match = re.search(
        r'<script id="fingerprint-agent-config" type="application/json">(.*?)</script>', html
    )
    assert match, html
    return json.loads(match.group(1))


def test_the_tag_carries_the_agents_config_and_the_loader_script(settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_page"
    settings.FINGERPRINT_SECRET_API_KEY = "sk_page"
    settings.FINGERPRINT_AGENT_ENDPOINT = ""
    html = PAGE.render(Context())
    assert config(html)["url"] == "https://fpjscdn.net/v4/pk_page"
    assert 'type="module"' in html and "risk/fingerprint-agent.js" in html
    assert "sk_page" not in html  # the secret key never reaches a page


def test_without_an_agent_the_config_is_null_and_names_no_address(settings):
    settings.DEBUG = False
    settings.FINGERPRINT_PUBLIC_API_KEY = ""
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8100"
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = False
    html = PAGE.render(Context())
    assert config(html) is None and "127.0.0.1" not in html
