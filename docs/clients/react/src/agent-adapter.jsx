// The one place that knows where the device identification comes from.
//
// * With VITE_FINGERPRINT_PUBLIC_KEY set: Fingerprint's React SDK (@fingerprint/react, JS agent
//   v4). Its <FingerprintProvider> takes the agent's start() options (apiKey, region,
//   endpoints for a proxy integration) and useVisitorData().getData() returns {event_id, ...}.
// * Without a key: the fpdjango sandbox's stand-in agent, an ES module served at
//   <sandbox>/agent.js. The SDK cannot load it: its loader always imports
//   <endpoint>/web/v4/<apiKey>?ci=... (the sandbox serves /agent.js) and passes the start options
//   to that module without the apiKey the sandbox checks. So the sandbox module is imported here
//   directly.
//
// Both give the rest of the app the same thing: useIdentify() -> identify(options), a promise of
// {eventId, sealedResult} for one new identification event.
import { FingerprintProvider, useVisitorData } from "@fingerprint/react";
import { useCallback, useEffect } from "react";

import { config } from "./config.js";

export const SANDBOX_PUBLIC_KEY = "sandbox-public-key";
export const AGENT_KIND = config.publicKey ? "fingerprint" : "sandbox";

// --- Fingerprint (production) -----------------------------------------------------------------

function FingerprintAgentProvider({ children }) {
  const startOptions = { apiKey: config.publicKey, region: config.region };
  if (config.endpoints.length) startOptions.endpoints = config.endpoints;
  return <FingerprintProvider {...startOptions}>{children}</FingerprintProvider>;
}

function useFingerprintIdentify() {
  const { getData } = useVisitorData({ immediate: false });
  return useCallback(
    async (options) => {
      const result = await getData(options);
      // sealed_result is a binary wrapper (or null) in agent v4: the API takes base64.
      return { eventId: result.event_id, sealedResult: result.sealed_result?.base64() ?? "" };
    },
    [getData],
  );
}

// --- fpdjango sandbox (development, tests) -----------------------------------------------------

let sandboxAgent = null;

function loadSandboxAgent() {
  if (!sandboxAgent) {
    const url = new URL(`${config.sandboxUrl}/agent.js`, window.location.href).href;
    sandboxAgent = import(/* @vite-ignore */ url).then((module) =>
      module.start({ apiKey: SANDBOX_PUBLIC_KEY }),
    );
    sandboxAgent.catch(() => {
      sandboxAgent = null; // the next submit tries again
    });
  }
  return sandboxAgent;
}

function SandboxAgentProvider({ children }) {
  useEffect(() => {
    loadSandboxAgent().catch(() => {}); // warm up; a failure is reported on submit
  }, []);
  return children;
}

function useSandboxIdentify() {
  return useCallback(async (options) => {
    const agent = await loadSandboxAgent();
    const result = await agent.get(options);
    return { eventId: result.event_id, sealedResult: result.sealed_result || "" };
  }, []);
}

// --- what the app uses -------------------------------------------------------------------------

export const AgentProvider =
  AGENT_KIND === "fingerprint" ? FingerprintAgentProvider : SandboxAgentProvider;
export const useIdentify = AGENT_KIND === "fingerprint" ? useFingerprintIdentify : useSandboxIdentify;
