from tests.browser.conftest import browser  # noqa: F401  (the guide's test drives chromium)
