"""Local Fingerprint simulator: speaks the Server API v4/v3, DRN and a stand-in JS agent.

See docs/sandbox.md. The server itself is plain stdlib Python; Django is only needed for the
`runsandbox` management command.
"""
