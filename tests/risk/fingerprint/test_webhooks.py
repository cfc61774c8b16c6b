"""risk/fingerprint/webhooks.py: webhook signatures in the documented format."""

from risk.fingerprint.webhooks import webhook_signature_valid


def test_webhook_signature_vector_from_the_docs():
    good = "v1=1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db"
    assert webhook_signature_valid(header=good, body=b"data", secret="secret")
    assert webhook_signature_valid(header=f"v2=abc, {good}", body=b"data", secret="secret")
    assert not webhook_signature_valid(header=good, body=b"data!", secret="secret")
    assert not webhook_signature_valid(header=good, body=b"data", secret="other")
    assert not webhook_signature_valid(header="", body=b"data", secret="secret")
    assert not webhook_signature_valid(header="v1=", body=b"data", secret="secret")
