// The signup form: identify the device on submit, post the event id with the credentials to
// /api/signup, and say what happened (with the reference staff can look up).
import { useState } from "react";

import { AGENT_KIND, useIdentify } from "./agent-adapter.jsx";
import { postSignup } from "./signup-api.js";

const FIELDS = [
  { name: "username", label: "Username", type: "text", autoComplete: "username",
    help: "Letters, digits and @ . + - _ only." },
  { name: "email", label: "Email", type: "email", autoComplete: "email", optional: true },
  { name: "password", label: "Password", type: "password", autoComplete: "new-password",
    help: "At least 8 characters; not a common password." },
];

function Reference({ value }) {
  return value ? <p className="reference">Reference: {value}</p> : null;
}

function Outcome({ result, username }) {
  if (!result) return null;
  const { kind } = result;
  const box = (tone, title, ...children) => (
    <div className={`outcome ${tone}`} role="status" aria-live="polite" data-outcome={kind}>
      <h2>{title}</h2>
      {children}
    </div>
  );
  switch (kind) {
    case "busy":
      return box("busy", "Creating your account…");
    case "created":
      return box("ok", "Your account is ready",
        <p key="p">Welcome, {username}! You can sign in now.</p>);
    case "pending_review":
      return box("wait", "Almost there: your account is being reviewed",
        <p key="p">We created your account, but a member of our team needs to check it before
          you can sign in. This usually takes less than a day.</p>,
        <Reference key="r" value={result.reference} />);
    case "denied":
      return box("bad", "We could not create your account",
        <p key="p">If you think this is a mistake, contact support and quote the reference
          below.</p>,
        <Reference key="r" value={result.reference} />);
    case "invalid":
      return box("bad", "Please check the form",
        <p key="p">{result.other?.length ? result.other.join(" ")
          : "Fix the highlighted fields and try again."}</p>);
    case "throttled":
      return box("wait", "Too many attempts",
        <p key="p">Please wait {result.retryAfter || 60} seconds and try again.</p>);
    case "unavailable":
      return box("wait", "We can't create accounts right now",
        <p key="p">Our verification service is busy. Please try again in{" "}
          {result.retryAfter || 5} seconds.</p>,
        <Reference key="r" value={result.reference} />);
    case "agent_error":
      return box("bad", "We could not check your browser",
        <p key="p">Disable any blocker for this page, reload it and try again.</p>);
    case "network_error":
      return box("bad", "We couldn't reach the server",
        <p key="p">Check your internet connection and try again.</p>);
    default:
      return box("bad", "Something went wrong on our side", <p key="p">Please try again later.</p>);
  }
}

export default function App() {
  const identify = useIdentify();
  const [values, setValues] = useState({ username: "", email: "", password: "" });
  const [fieldErrors, setFieldErrors] = useState({});
  const [result, setResult] = useState(null);
  const busy = result?.kind === "busy";
  const done = result?.kind === "created" || result?.kind === "pending_review";

  async function submit(event) {
    event.preventDefault();
    setFieldErrors({});
    setResult({ kind: "busy" });
    let identification;
    try {
      identification = await identify({ linkedId: values.username, tag: { action: "signup" } });
    } catch {
      setResult({ kind: "agent_error" });
      return;
    }
    let answer;
    try {
      answer = await postSignup({ ...identification, ...values });
    } catch {
      setResult({ kind: "network_error" });
      return;
    }
    if (answer.kind === "invalid") {
      const mine = {};
      const other = [];
      for (const [name, list] of Object.entries(answer.errors)) {
        const text = list.map((item) => item.message || String(item)).join(" ");
        if (FIELDS.some((field) => field.name === name)) mine[name] = text;
        else other.push(text);
      }
      setFieldErrors(mine);
      answer.other = other;
    }
    setResult(answer);
  }

  return (
    <main className="card">
      <header>
        <h1>Create your account</h1>
        <p className="lede">It takes less than a minute.</p>
      </header>
      <Outcome result={result} username={values.username} />
      {!done && (
        <form onSubmit={submit} noValidate>
          {FIELDS.map((field) => (
            <div className="field" key={field.name}>
              <label htmlFor={field.name}>
                {field.label}
                {field.optional && <span className="optional"> (optional)</span>}
              </label>
              <input
                id={field.name}
                name={field.name}
                type={field.type}
                autoComplete={field.autoComplete}
                value={values[field.name]}
                onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}
                aria-invalid={fieldErrors[field.name] ? "true" : undefined}
                aria-describedby={`${field.name}-help ${field.name}-error`}
              />
              {field.help && <p className="help" id={`${field.name}-help`}>{field.help}</p>}
              {fieldErrors[field.name] && (
                <p className="error" id={`${field.name}-error`}>{fieldErrors[field.name]}</p>
              )}
            </div>
          ))}
          <button type="submit" disabled={busy}>Create account</button>
        </form>
      )}
      <footer>
        <p>
          We check every sign-up for bots and duplicate accounts
          {AGENT_KIND === "sandbox" && " (sandbox mode)"}.
        </p>
      </footer>
    </main>
  );
}
