"""The sandbox's HTTP APIs, one module each: Server API v4 (`v4`), v3 (`v3`), the Device
Reputation Network (`drn`), the JS agent stand-in (`agent`) and the control API (`control`).
Each module's `register(router, app)` adds its routes; handlers take `(app, req)`."""
