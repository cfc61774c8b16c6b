"""Android devices with DRN data seeded in the sandbox, and the data the DRN tests seed."""

from risk.models import Device

MASKED = {
    "countries": [
        {"code": "US", "detectors": [{"type": "ip", "activityPercentage": 0.6}]},
        {"code": "CA", "detectors": [{"type": "ip", "activityPercentage": 0.4}]},
        {"code": "RU", "detectors": [{"type": "origin", "activityPercentage": 1.0}]},
    ]
}
SCORES = {
    "minimum": {"value": 3, "signals": {"rootApps": 3}},
    "maximum": {
        "value": 25,
        "percentile": 0.95,
        "signals": {"vpn": {"publicVPN": 5}, "emulator": 8, "frida": 12},
    },
}


def android_device(sandbox, **seed) -> Device:
    # An odd age keeps these events out of other tests' time-window searches (shared sandbox).
    event = sandbox.create_event("android", age_s=12 * 86_400 + 437)
    visitor = event["identification"]["visitor_id"]
    if seed:
        sandbox.seed_drn(visitor, **seed)
    return Device.objects.create(visitor_id=visitor, platform="android")
