// The signup SPA's build. `base: "./"` lets the built files live under any path (the browser
// test serves them under /spa/). The dev and preview servers forward /api to Django and
// /fp-sandbox to the Fingerprint sandbox, so the page, the API and the (sandbox) agent share one
// origin, as they would behind a production reverse proxy. No CORS needed.
import react from "@vitejs/plugin-react";
import { defineConfig, loadEnv } from "vite";

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), "");
  const proxy = {
    "/api": { target: env.DEV_API_TARGET || "http://127.0.0.1:8000" },
    "/fp-sandbox": {
      target: env.DEV_SANDBOX_TARGET || "http://127.0.0.1:8100",
      rewrite: (path) => path.replace(/^\/fp-sandbox/, ""),
    },
  };
  return {
    base: "./",
    plugins: [react()],
    server: { proxy },
    preview: { proxy },
    build: { sourcemap: true },
  };
});
