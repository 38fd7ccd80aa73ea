"use strict";
// Opening the emailed link must not use the code up: people open the link, and the
// desktop app then needs the same code. So the page only shows the code (to paste into
// the app) and signs this browser in only when asked.
const say = (text) => { document.getElementById("message").textContent = text; };
const detail = (body) => typeof body.detail === "string" ? body.detail : "Please try again.";
async function signIn(token) {
  const r = await fetch("/api/auth/magic-link/verify", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  const body = await r.json();
  if (!r.ok) { say(detail(body)); return; }
  // This tab only: the presenter page opened from here uses the same sign-in.
  sessionStorage.setItem("sonta.access_token", body.access_token);
  document.getElementById("magic").classList.add("hidden");
  document.getElementById("for-app").classList.add("hidden");
  document.getElementById("next").classList.remove("hidden");
  say("You are signed in.");
}
async function copyCode() {
  const code = document.getElementById("code");
  try {
    await navigator.clipboard.writeText(code.textContent);
    say("Copied. Paste it into the app's Code field.");
  } catch {
    // Plain http gives pages no clipboard: select the code for Ctrl+C instead.
    getSelection().selectAllChildren(code);
    say("Press Ctrl+C (or Cmd+C) to copy the selected code.");
  }
}
const given = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", location.pathname);  // keep the code out of history
document.getElementById("token").value = given;
if (given) {
  document.getElementById("code").textContent = given;
  document.getElementById("for-app").classList.remove("hidden");
}
document.getElementById("copy").addEventListener("click", copyCode);
document.getElementById("magic").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value.trim());
});
